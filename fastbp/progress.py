"""Progress bars through tqdm, shared by training, the sweep and the demo.

A bar is drawn only where someone watches: ``enabled=None`` means "on a
terminal" (tqdm's own test of the output stream), ``True`` always, ``False``
never. Lines printed while a bar is open go through :func:`write`, so that they
do not tear the bar.
"""

import sys

from tqdm.auto import tqdm

# A short fit finishes before a bar would be worth drawing: the bar appears only
# once a job has run this long (tqdm's ``delay``).
BAR_DELAY_SECONDS = 0.5


def progress_bar(total, description, unit, enabled=None, delay=BAR_DELAY_SECONDS, **tqdm_options):
    """-> a tqdm bar over ``total`` units (disabled, but still usable, when not enabled).

    enabled: None (a bar only on a terminal), True or False.
    The demo's sweep calls this with unit="network" and updates it as networks finish.
    tqdm_options: passed on to tqdm.
    """
    return tqdm(total=total, desc=description, unit=unit, disable=None if enabled is None else not enabled,
                delay=delay, file=sys.stderr, dynamic_ncols=True, leave=False, **tqdm_options)


def write(line):
    """Print a line without tearing an open bar (plain print when there is none)."""
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()
