"""The shapes the suite trains: the three jobs, the sweep's grid, a user's ``--shape``.

A shape is a dict: name, N samples, D inputs, hidden (a tuple of widths), C
classes, B (None: full batch, else the minibatch size), data ("moons",
"classification" or "blobs"), epsilon and reg_lambda. Every contender trains
it by the same gradient descent on the summed loss (fastbp.train's
convention): a full batch steps ``W -= epsilon * (dW_sum + reg_lambda * W)``
once per pass; minibatches step once per batch with the L2 term scaled by
the batch's share of N, so that a pass (epoch) visits every sample once.
"""

import numpy as np

from ..lecture import REG_LAMBDA

# Step sizes that keep every contender finite: a mean-gradient step of 0.01.
MEAN_STEP = 0.01


def shape(name, N, D, hidden, C, B=None, data="blobs", epsilon=None, what=None):
    hidden = tuple(hidden) if isinstance(hidden, (tuple, list)) else (hidden,)
    return dict(name=name, N=N, D=D, hidden=hidden, C=C, B=B, data=data,
                epsilon=epsilon if epsilon is not None else MEAN_STEP / (B or N), reg_lambda=REG_LAMBDA,
                what=what or "%d samples of %d Gaussian blobs in %d dimensions" % (N, C, D))


# The three jobs the kernels were first tuned on (lecture, medium, large).
JOBS = {
    "lecture": shape("lecture", 200, 2, 3, 2, data="moons", epsilon=0.01,
                     what="make_moons(200, noise=0.20, seed=0), the lecture's job"),
    "medium": shape("medium", 10_000, 2, 64, 2, data="moons", what="make_moons(10000, noise=0.20, seed=0)"),
    "large": shape("large", 100_000, 20, 256, 10, data="classification",
                   what="sklearn make_classification(100000, 20 features, 10 classes, random_state=0)"),
}

# The sweep: series of shapes that differ only in the hidden width, drawn as
# GFLOP/s against width. Together they cover inputs D from 2 to 1024, widths
# 3 to 1024, one to three hidden layers, 2 to 20 classes, full batches and
# minibatches of 16 to 1024; every series runs in float64 and float32.
SWEEP_WIDTHS = (3, 32, 256, 1024)
QUICK_WIDTHS = (16, 256)
SWEEP_SERIES = {
    "D=2 C=2 full batch N=2000": dict(N=2000, D=2, layers=1, C=2, B=None),
    "D=1024 C=10 full batch N=1024": dict(N=1024, D=1024, layers=1, C=10, B=None),
    "D=64 C=20 minibatch B=16 N=2048": dict(N=2048, D=64, layers=1, C=20, B=16),
    "D=784 C=10 minibatch B=128 N=2048": dict(N=2048, D=784, layers=1, C=10, B=128),
    "D=256 C=5 minibatch B=1024 N=4096": dict(N=4096, D=256, layers=1, C=5, B=1024),
    "D=128 C=10 two layers B=256 N=2048": dict(N=2048, D=128, layers=2, C=10, B=256),
    "D=32 C=10 three layers full batch N=1024": dict(N=1024, D=32, layers=3, C=10, B=None),
}
QUICK_SERIES = ("D=1024 C=10 full batch N=1024", "D=784 C=10 minibatch B=128 N=2048")


def sweep_shapes(series_name, widths):
    s = SWEEP_SERIES[series_name]
    return [shape("%s H=%d" % (series_name, H), s["N"], s["D"], (H,) * s["layers"], s["C"], s["B"])
            for H in widths]


def parse_shape(text):
    """"N,D,H1[,H2...],C[,bB]" -> a shape dict; ValueError naming --shape otherwise.

    The batch size is marked with a b (``10000,784,256,10,b128``): without the
    mark a fifth number could be a hidden width or a batch size.
    """
    fields = [f.strip() for f in text.split(",")]
    B = None
    if fields and fields[-1][:1] in ("b", "B"):
        B = _positive(fields.pop()[1:], text, "the batch size")
    if len(fields) < 4:
        raise ValueError("--shape must be N,D,H1[,H2...],C[,bB] (at least four numbers), got %r" % text)
    N, D = _positive(fields[0], text, "N"), _positive(fields[1], text, "D")
    hidden = tuple(_positive(f, text, "a hidden width") for f in fields[2:-1])
    C = _positive(fields[-1], text, "C")
    if C < 2:
        raise ValueError("--shape needs at least 2 classes, got C=%d in %r" % (C, text))
    if N < C:
        raise ValueError("--shape needs N >= C (every class present), got N=%d, C=%d in %r" % (N, C, text))
    if B is not None and B > N:
        raise ValueError("--shape's batch size must be <= N, got b%d with N=%d in %r" % (B, N, text))
    return shape("N=%d D=%d H=%s C=%d %s" % (N, D, "-".join(map(str, hidden)), C,
                                             "B=%d" % B if B else "full batch"), N, D, hidden, C, B)


def _positive(field, text, what):
    if not field.isdigit() or int(field) < 1:
        raise ValueError("--shape: %s must be a positive integer, got %r in %r" % (what, field, text))
    return int(field)


def sizes_of(s):
    return (s["D"],) + tuple(s["hidden"]) + (s["C"],)


def flops_per_pass(s):
    """Floating-point operations of one pass (epoch) over the N samples.

    Forward 2N sum(J K) over the layers; backward 2N sum(J K) for the weight
    gradients plus 2N sum(J K) over all layers but the first for the deltas
    (no gradient with respect to X). One hidden layer: 2N(DH + HC) + 2N(DH + 2HC).
    """
    products = [J * K for J, K in zip(sizes_of(s)[:-1], sizes_of(s)[1:])]
    return 2 * s["N"] * (2 * sum(products) + sum(products[1:]))


def multiply_adds_per_step(s):
    """Multiply-adds of one gradient step (one batch, or the full batch)."""
    return flops_per_pass(s) // 2 * (s["B"] or s["N"]) // s["N"]


def make_data(s):
    """-> X (N,D) float64, y (N,) labels 0..C-1, every class present."""
    from .. import datasets
    if s["data"] == "moons":
        return datasets.make_moons(s["N"], noise=0.20, seed=0)
    if s["data"] == "classification":
        from sklearn.datasets import make_classification
        X, y = make_classification(n_samples=s["N"], n_features=s["D"], n_informative=s["D"] // 2 + 5,
                                   n_redundant=0, n_classes=s["C"], n_clusters_per_class=1, random_state=0)
        return np.ascontiguousarray(X, dtype=np.float64), y.astype(np.intp)
    if s["data"] == "spiral":
        return datasets.make_spiral(s["N"] // s["C"], s["C"], seed=0)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((s["C"], s["D"]))
    y = rng.permutation(np.arange(s["N"]) % s["C"]).astype(np.intp)
    X = centres[y] + rng.standard_normal((s["N"], s["D"]))
    return X, y


def epoch_orders(N, num_passes, seed=0):
    """The sample order of every minibatch pass, as fastbp.train draws them:
    a permutation per pass from one generator seeded with ``seed``."""
    generator = np.random.default_rng(seed)
    orders = np.empty((num_passes, N), dtype=np.intp)
    for order in orders:
        order[:] = np.arange(N)
        generator.shuffle(order)
    return orders
