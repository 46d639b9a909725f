"""The benchmark suite from a source checkout: ``python bench/run.py [options]`` is ``fastbp bench [options]``.

The suite itself is part of the package (fastbp/bench/). The developers
replace the committed results with a run on a quiet machine:

    python bench/run.py --out bench/results --write-committed-results

See bench/README.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastbp.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench"] + sys.argv[1:]))
