"""The lecture's settings, written once: the demo, the animation, the sweeps and
the command line read them from here.

The lecture trains on ``make_moons(200, noise=0.20)`` with a tanh hidden layer of
3 units, full-batch gradient descent with step 0.01 and L2 strength 0.01 for
20000 passes, from the initial weights drawn with seed 0.
"""

from . import _validation as check
from . import diagnostics, trainer

DATA_SIZE = 200  # make_moons(200, noise=0.20)
DATA_NOISE = 0.20
HIDDEN = 3
EPSILON = 0.01
REG_LAMBDA = 0.01
NUM_PASSES = 20000
SEED = 0
# The many-class exercise: three spiral arms of 100 points (datasets.make_spiral).
SPIRAL_SAMPLES_PER_CLASS, SPIRAL_CLASSES = 100, 3
# A fresh test sample is drawn with the training sample's seed + TEST_SEED_OFFSET.
TEST_SEED_OFFSET = 1
# Losses are recorded every RECORD_EVERY passes for diagnostics.classify_run:
# fine enough for a loss curve, and odd, so that a period-2 cycle still
# alternates in the record. Recording computes the loss, a forward pass over the
# data: at every pass it would nearly double a sweep's time.
RECORD_EVERY = 25
MIN_PASSES = RECORD_EVERY * diagnostics.MIN_LOSSES  # classify_run needs MIN_LOSSES losses


def check_seed(seed, name="seed"):
    """A seed of a training sample whose test sample (seed + TEST_SEED_OFFSET) is a valid seed too."""
    seed = check.check_int(seed, name, 0)
    if seed + TEST_SEED_OFFSET > trainer.MAX_SEED:
        raise ValueError("%s must be <= %d, got %d" % (name, trainer.MAX_SEED - TEST_SEED_OFFSET, seed))
    return seed
