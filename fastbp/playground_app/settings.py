"""The playground's settings: one record, read from and written to text.

The page's fields and the page's address (``?dataset=spiral&hidden=20,20``)
hold the same strings, so one parser serves both: :func:`parse` turns them into
a :class:`Settings`, naming every bad value in a message instead of raising,
and :func:`to_strings` writes a :class:`Settings` back. Nothing here imports
the web libraries, so the rules are tested without a browser.
"""

import math
from dataclasses import dataclass, fields, replace

from .. import schedules
from ..trainer import MAX_SEED

DATASETS = ("moons", "spiral", "circles", "xor", "blobs")
ACTIVATIONS = ("tanh", "sigmoid", "relu")
# The inputs the network may see, as in TensorFlow Playground: the two
# coordinates and products and sines of them.
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
SCHEDULES = tuple(sorted(schedules.SCHEDULES))
DTYPES = ("float64", "float32")

# Limits that keep a page responsive on a laptop: training and the pictures of
# 20000 points and 6 layers of 64 units still redraw several times a second.
MAX_SAMPLES = 20000
MIN_SAMPLES = 10
MAX_LAYERS = 6
MAX_UNITS = 64
MAX_NOISE = 2.0
MAX_TEST_PERCENT = 90
MAX_STOP_AT = 10**9
MAX_SPEED = 10**7


@dataclass(frozen=True)
class Settings:
    """Everything that defines an experiment; the defaults are the lecture's run
    with a fifth of the points held out for testing."""

    dataset: str = "moons"
    noise: float = 0.2
    samples: int = 200
    test_percent: int = 20
    seed: int = 0
    show_test: bool = True
    hidden: tuple = (3,)
    activation: str = "tanh"
    features: tuple = ("x1", "x2")
    epsilon: float = 0.01
    l2: float = 0.01
    batch: int = 0  # 0: full batch (the lecture); B: minibatches of B samples
    schedule: str = "constant"
    dtype: str = "float64"
    stop_at: int = 0  # stop after this many passes; 0: run until paused
    speed: int = 0  # at most this many passes a second, to watch a run unfold; 0: as fast as it goes


# The lecture's exact run: make_moons(200, noise=0.20) after np.random.seed(0),
# every point used for training, H = 3, epsilon 0.01, reg_lambda 0.01, 20000 passes.
# It runs at 2000 passes a second, so that its 20000 passes take ten seconds to watch.
LECTURE = Settings(test_percent=0, stop_at=20000, speed=2000)

NAMES = tuple(field.name for field in fields(Settings))

LABELS = {
    "dataset": "data set", "noise": "noise", "samples": "samples", "test_percent": "test %", "seed": "seed",
    "show_test": "show test points", "hidden": "hidden layers", "activation": "activation",
    "features": "input features", "epsilon": "step size epsilon", "l2": "L2 (reg_lambda)",
    "batch": "batch size", "schedule": "schedule", "dtype": "precision", "stop_at": "stop after pass",
    "speed": "passes/s limit",
}


def _integer(text, low, high):
    value = int(text.strip())
    if not low <= value <= high:
        raise ValueError("must be an integer from %d to %d" % (low, high))
    return value


def _real(text, low, high, low_open=False):
    value = float(text.strip())
    if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
        raise ValueError("must be a number %s %g and at most %g" % (">" if low_open else ">=", low, high))
    return value


def _choice(options):
    def parse(text):
        value = text.strip()
        if value not in options:
            raise ValueError("must be one of %s" % ", ".join(options))
        return value
    return parse


def _hidden(text):
    parts = [part for part in text.replace(" ", "").split(",") if part]
    if not 1 <= len(parts) <= MAX_LAYERS:
        raise ValueError("must be 1 to %d layer sizes separated by commas, like 3 or 20,20" % MAX_LAYERS)
    return tuple(_integer(part, 1, MAX_UNITS) for part in parts)


def _features(text):
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in FEATURES]
    if unknown or not chosen:
        raise ValueError("must be one or more of %s, separated by commas" % ", ".join(FEATURES))
    return tuple(feature for feature in FEATURES if feature in chosen)  # in the canonical order


def _flag(text):
    value = text.strip().lower()
    if value not in ("0", "1", "true", "false"):
        raise ValueError("must be 1 or 0")
    return value in ("1", "true")


PARSERS = {
    "dataset": _choice(DATASETS),
    "noise": lambda text: _real(text, 0.0, MAX_NOISE),
    "samples": lambda text: _integer(text, MIN_SAMPLES, MAX_SAMPLES),
    "test_percent": lambda text: _integer(text, 0, MAX_TEST_PERCENT),
    "seed": lambda text: _integer(text, 0, MAX_SEED),
    "show_test": _flag,
    "hidden": _hidden,
    "activation": _choice(ACTIVATIONS),
    "features": _features,
    "epsilon": lambda text: _real(text, 0.0, 1e6, low_open=True),
    "l2": lambda text: _real(text, 0.0, 1e6),
    "batch": lambda text: _integer(text, 0, MAX_SAMPLES),
    "schedule": _choice(SCHEDULES),
    "dtype": _choice(DTYPES),
    "stop_at": lambda text: _integer(text, 0, MAX_STOP_AT),
    "speed": lambda text: _integer(text, 0, MAX_SPEED),
}


def to_string(name, value):
    """One setting as the text the page and the address show."""
    if name in ("hidden", "features"):
        return ",".join(str(part) for part in value)
    if name == "show_test":
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    return str(value)


def to_strings(settings):
    return {name: to_string(name, getattr(settings, name)) for name in NAMES}


def parse(strings, fallback=Settings()):
    """Settings from text -> (Settings, messages).

    strings: a mapping from setting names to text (the page's fields or the
    address's query). A missing name keeps fallback's value; a bad value keeps
    it too and adds a message naming the setting, as does an unknown name. The
    settings returned are always usable.
    """
    values, messages = {}, []
    for name, text in strings.items():
        if name not in PARSERS:
            messages.append("unknown setting %r ignored (the settings are %s)" % (name, ", ".join(NAMES)))
            continue
        try:
            values[name] = PARSERS[name](str(text))
        except ValueError as err:
            reason = str(err) if str(err).startswith("must") else "must be %s" % _describe(name)
            messages.append("%s: %r %s; kept %s" % (LABELS[name], str(text)[:40], reason,
                                                    to_string(name, getattr(fallback, name))))
    settings = replace(fallback, **values)
    largest_batch = train_size(settings)
    if settings.batch > largest_batch:
        messages.append("%s: %d is more than the %d training points; kept %s"
                        % (LABELS["batch"], settings.batch, largest_batch, to_string("batch", fallback.batch)))
        settings = replace(settings, batch=fallback.batch if fallback.batch <= largest_batch else 0)
    return settings, messages


def _describe(name):
    descriptions = {"noise": "a number from 0 to %g" % MAX_NOISE, "epsilon": "a positive number",
                    "l2": "a number >= 0", "hidden": "layer sizes like 3 or 20,20"}
    return descriptions.get(name, "an integer")


def train_size(settings):
    """How many of the points are kept for training (the rest are the test points)."""
    return settings.samples - test_size(settings)


def test_size(settings):
    return settings.samples * settings.test_percent // 100


def query_to_strings(query):
    """The address's query (name -> list of values, as a web server parses it, values
    as text or bytes) -> name -> text, the last value of a repeated name winning."""
    strings = {}
    for name, values in query.items():
        value = values[-1] if isinstance(values, (list, tuple)) else values
        strings[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return strings
