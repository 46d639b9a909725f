"""The contenders: one training loop each, every one the same algorithm.

``setup(X, y, s, init, dtype)`` returns ``(run, info)``: ``run(num_passes)``
trains shape ``s`` (fastbp.bench.shapes) from the initial weights ``init`` for
``num_passes`` passes and returns the final weights as a dict of NumPy arrays
W1..WL, b1..bL; ``info`` says which threads it used and anything worth a note.
Minibatch loops visit the samples in fastbp.train's orders (one permutation
per pass from ``numpy.random.default_rng(0)``), drawn inside ``run`` as
fastbp draws them inside its call, so that the same weights come out;
scikit-learn shuffles with its own generator, and MLPClassifier at C = 2 has
one logistic output unit: there its losses are not compared.
"""

import os
import warnings

import numpy as np

from .shapes import epoch_orders


def blas_threads():
    from threadpoolctl import threadpool_info
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return "BLAS ?"
    return "BLAS %d (%s)" % (pools[0]["num_threads"], pools[0].get("internal_api", "?"))


def layer_names(num_layers):
    return ["W%d" % l for l in range(1, num_layers + 1)] + ["b%d" % l for l in range(1, num_layers + 1)]


# ---------------------------------------------------------------- fastbp

def setup_fastbp(X, y, s, init, dtype):
    from .. import trainer

    # from init, as every peer starts (the weights train(seed=0) would draw), so
    # that no contender's time includes drawing them
    def run(num_passes):
        return trainer.train(X, y, hidden=s["hidden"], num_passes=num_passes, epsilon=s["epsilon"],
                             reg_lambda=s["reg_lambda"], seed=0, batch_size=s["B"], dtype=dtype,
                             initial_model=init).model
    return run, {"threads": "%d (the default)" % trainer.default_num_threads()}


def setup_fastbp_numpy(X, y, s, init, dtype):
    from .. import trainer

    def run(num_passes):
        return trainer.train(X, y, hidden=s["hidden"], num_passes=num_passes, epsilon=s["epsilon"],
                             reg_lambda=s["reg_lambda"], seed=0, batch_size=s["B"], backend="numpy",
                             dtype=dtype, initial_model=init).model
    return run, {"threads": blas_threads()}


def sklearn_settings(s):
    """MLPClassifier's (and LectureClassifier's) learning_rate_init, alpha and batch size
    that make its step ours: it steps lr * (mean gradient + alpha * W / b) on a
    batch of b samples, so lr = epsilon * B and alpha = reg_lambda * B / N."""
    B = s["B"] or s["N"]
    return dict(learning_rate_init=s["epsilon"] * B, alpha=s["reg_lambda"] * B / s["N"], batch_size=B)


def setup_fastbp_classifier(X, y, s, init, dtype):
    from .. import trainer
    from ..estimators import LectureClassifier
    settings = sklearn_settings(s)
    clf = LectureClassifier(hidden_layer_sizes=s["hidden"], alpha=settings["alpha"],
                           learning_rate_init=settings["learning_rate_init"],
                           batch_size=s["B"], random_state=0, dtype=dtype)

    def run(num_passes):
        clf.set_params(max_iter=num_passes)
        clf.fit(X, y)
        return {name: clf.model_[name] for name in layer_names(len(s["hidden"]) + 1)}
    return run, {"threads": "%d (the default)" % trainer.default_num_threads(),
                 "note": "MLPClassifier's settings"}


def _mlp_as_our_algorithm(cls, X, y, s, init):
    """scikit-learn's MLPClassifier (or FastBPClassifier, with the same parameters) as our algorithm
    (plain SGD, no momentum, no early stop), its weights set to ``init`` after a one-pass fit
    (warm_start) -> (run, notes). With 2 classes its output is one logistic unit, started from the
    equivalent weights ``W2[:, 1] - W2[:, 0]``."""
    from sklearn.exceptions import ConvergenceWarning
    settings = sklearn_settings(s)
    L = len(s["hidden"]) + 1
    minibatch = s["B"] is not None
    clf = cls(hidden_layer_sizes=s["hidden"], activation="tanh", solver="sgd", learning_rate="constant",
              momentum=0.0, nesterovs_momentum=False, shuffle=minibatch, tol=0.0, n_iter_no_change=10**9,
              early_stopping=False, max_iter=1, warm_start=True, random_state=0, **settings)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
    fit()  # lets the estimator set itself up; the weights are replaced by run

    def run(num_passes):
        WL, bL = init["W%d" % L], init["b%d" % L]
        if s["C"] == 2:
            WL, bL = WL[:, 1:] - WL[:, :1], bL[:, 1:] - bL[:, :1]
        clf.coefs_ = [init["W%d" % l].copy() for l in range(1, L)] + [WL.copy()]
        clf.intercepts_ = [init["b%d" % l].ravel().copy() for l in range(1, L)] + [bL.ravel().copy()]
        clf.loss_curve_, clf._no_improvement_count, clf.best_loss_, clf.t_ = [], 0, np.inf, 0
        clf.max_iter = num_passes
        fit()
        model = {}
        for l in range(1, L + 1):
            model["W%d" % l], model["b%d" % l] = clf.coefs_[l - 1], clf.intercepts_[l - 1].reshape(1, -1)
        if s["C"] == 2:  # the softmax network [0, w] computes the same loss, L2 term included
            WL, bL = model["W%d" % L], model["b%d" % L]
            model["W%d" % L] = np.hstack([np.zeros_like(WL), WL])
            model["b%d" % L] = np.hstack([np.zeros_like(bL), bL])
        return model
    notes = []
    if s["C"] == 2:
        notes.append("1 logistic output unit (C = 2)")
    if minibatch:
        notes.append("its own sample order")
    return run, notes


def setup_sklearn(X, y, s, init, dtype):
    from sklearn.neural_network import MLPClassifier
    run, notes = _mlp_as_our_algorithm(MLPClassifier, X, y, s, init)
    return run, {"threads": blas_threads(), "note": "same algorithm" + "".join("; " + n for n in notes),
                 "comparable": not notes}


# Passes after which FastBPClassifier's weights are compared with MLPClassifier's, at set-up (untimed)
AGREEMENT_PASSES = 2
# The estimator tests' tolerance for the same comparison (tests/api/test_estimator_mlp.py,
# AGREEMENT_RTOL: relative to each array's largest entry; the compiled loop sums in
# another order than BLAS and rounds exp/tanh within 2 ulp).
WEIGHTS_RTOL = {"float64": 1e-10, "float32": 1e-4}


def weights_difference(mine, theirs):
    """The largest difference of two models' arrays, relative to each array's largest entry."""
    return max(float(np.abs(mine[name] - theirs[name]).max() / max(np.abs(theirs[name]).max(), np.finfo(float).tiny))
               for name in theirs)


def setup_fastbp_mlp(X, y, s, init, dtype):
    """FastBPClassifier, scikit-learn's drop-in, with MLPClassifier's parameters and seed (setup_sklearn's):
    the same sample order and network, so it must end with MLPClassifier's weights, which set-up checks
    (untimed) after a few passes."""
    from sklearn.neural_network import MLPClassifier

    from .. import _mlp
    from ..estimators import FastBPClassifier
    run, notes = _mlp_as_our_algorithm(FastBPClassifier, X, y, s, init)
    theirs, _ = _mlp_as_our_algorithm(MLPClassifier, X, y, s, init)
    difference = weights_difference(run(AGREEMENT_PASSES), theirs(AGREEMENT_PASSES))
    agree = difference <= WEIGHTS_RTOL[dtype]
    return run, {"threads": "%d (the default)" % _mlp.max_threads(),
                 "note": "MLPClassifier's parameters and seed; weights after %d passes %s MLPClassifier's: %.1e "
                         "(tolerance %g)" % (AGREEMENT_PASSES, "agree with" if agree else "DIFFER from", difference,
                                             WEIGHTS_RTOL[dtype]),
                 "weights_vs_mlp": difference, "weights_agree": agree, "comparable": not notes}


# ---------------------------------------------------------------- the lecture's code

def setup_lecture(X, y, s, init, dtype):
    from . import lecture_code
    lecture_code.setup(X, y, s["epsilon"], s["reg_lambda"])

    def run(num_passes):
        return lecture_code.build_model(s["hidden"][0], num_passes=num_passes)
    return run, {"threads": blas_threads()}


# ---------------------------------------------------------------- PyTorch

def _torch():
    import torch
    torch.set_num_threads(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    return torch, "%d (torch.set_num_threads)" % torch.get_num_threads()


def _batches(s, num_passes):
    """-> (the orders of the passes, None for full batches; the (start, stop) of each batch in an order)."""
    N, B = s["N"], s["B"] or s["N"]
    orders = epoch_orders(N, num_passes) if s["B"] else None
    return orders, [(start, min(start + B, N)) for start in range(0, N, B)]


def setup_torch_eager(X, y, s, init, dtype):
    """Eager PyTorch, gradients by autograd of the summed loss + reg/2 ||W||^2."""
    torch, threads = _torch()
    import torch.nn.functional as F
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    names, L = layer_names(len(s["hidden"]) + 1), len(s["hidden"]) + 1

    def step(params, Xb, yb, reg):
        a = Xb
        for l in range(L - 1):
            a = torch.tanh(a @ params[l] + params[L + l])
        z = a @ params[L - 1] + params[2 * L - 1]
        loss = F.cross_entropy(z, yb, reduction="sum") + reg / 2 * sum((W * W).sum() for W in params[:L])
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(s["epsilon"] * g)

    def run(num_passes):
        params = [torch.tensor(init[name], requires_grad=True) for name in names]
        orders, spans = _batches(s, num_passes)
        for p in range(num_passes):
            if orders is None:
                step(params, Xt, yt, s["reg_lambda"])
                continue
            order = torch.from_numpy(orders[p])
            for start, stop in spans:
                idx = order[start:stop]
                step(params, Xt[idx], yt[idx], s["reg_lambda"] * (stop - start) / s["N"])
        return {name: p.detach().numpy().copy() for name, p in zip(names, params)}
    return run, {"threads": threads, "note": "autograd"}


def setup_torch_compile(X, y, s, init, dtype):
    """torch.compile (inductor) of one step with hand-written gradients; the loop stays in Python."""
    torch, threads = _torch()
    import torch.nn.functional as F
    torch._dynamo.reset()  # a fresh cache per shape: a child compiles step for many shapes
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    names, L, C, eps = layer_names(len(s["hidden"]) + 1), len(s["hidden"]) + 1, s["C"], s["epsilon"]

    def step(params, Xb, yb, reg):
        Ws, bs = params[:L], params[L:]
        acts = [Xb]
        for l in range(L - 1):
            acts.append(torch.tanh(acts[-1] @ Ws[l] + bs[l]))
        delta = torch.softmax(acts[-1] @ Ws[-1] + bs[-1], dim=1) - F.one_hot(yb, C).to(Xb.dtype)
        new_W, new_b = [None] * L, [None] * L
        for l in reversed(range(L)):
            dW = acts[l].T @ delta + reg * Ws[l]
            db = delta.sum(dim=0, keepdim=True)
            if l > 0:
                delta = (delta @ Ws[l].T) * (1 - acts[l] * acts[l])
            new_W[l], new_b[l] = Ws[l] - eps * dW, bs[l] - eps * db
        return new_W + new_b
    compiled = torch.compile(step, fullgraph=True, dynamic=False)

    def run(num_passes):
        params = [torch.tensor(init[name]) for name in names]
        orders, spans = _batches(s, num_passes)
        with torch.no_grad():
            for p in range(num_passes):
                if orders is None:
                    params = compiled(params, Xt, yt, s["reg_lambda"])
                    continue
                order = torch.from_numpy(orders[p])
                for start, stop in spans:
                    idx = order[start:stop]
                    params = compiled(params, Xt[idx], yt[idx], s["reg_lambda"] * (stop - start) / s["N"])
        return {name: p.numpy().copy() for name, p in zip(names, params)}
    return run, {"threads": threads, "note": "hand-written gradients, one compiled graph per step"}


# ---------------------------------------------------------------- JAX

def setup_jax(X, y, s, init, dtype):
    """The whole loop of passes in one jax.jit (lax.fori_loop), gradients by jax.grad."""
    import jax
    jax.config.update("jax_enable_x64", True)  # float32 arrays stay float32; float64 ones need it
    import jax.numpy as jnp
    from jax import lax
    eps, N, B = s["epsilon"], s["N"], s["B"] or s["N"]
    names, L = layer_names(len(s["hidden"]) + 1), len(s["hidden"]) + 1
    Xj, yj = jax.device_put(X), jax.device_put(y.astype(np.int64))

    def loss(p, Xb, yb, reg):
        a = Xb
        for l in range(1, L):
            a = jnp.tanh(a @ p["W%d" % l] + p["b%d" % l])
        z = a @ p["W%d" % L] + p["b%d" % L]
        data = jnp.sum(jax.nn.logsumexp(z, axis=1) - jnp.take_along_axis(z, yb[:, None], axis=1)[:, 0])
        return data + reg / 2 * sum(jnp.sum(p["W%d" % l] ** 2) for l in range(1, L + 1))

    grad = jax.grad(loss)

    def step(p, Xb, yb, reg):
        return jax.tree_util.tree_map(lambda w, dw: w - eps * dw, p, grad(p, Xb, yb, reg))

    def train_full(p, num_passes):
        return lax.fori_loop(0, num_passes, lambda i, p: step(p, Xj, yj, s["reg_lambda"]), p)

    def train_minibatch(p, orders):
        def epoch(e, p):
            order = orders[e]

            def batch(k, p):
                idx = lax.dynamic_slice(order, (k * B,), (B,))
                return step(p, Xj[idx], yj[idx], s["reg_lambda"] * B / N)
            p = lax.fori_loop(0, N // B, batch, p)
            if N % B:  # the last, shorter batch
                idx = order[N - N % B:]
                p = step(p, Xj[idx], yj[idx], s["reg_lambda"] * (N % B) / N)
            return p
        return lax.fori_loop(0, orders.shape[0], epoch, p)

    p0 = {name: jnp.asarray(init[name]) for name in names}
    train = jax.jit(train_minibatch if s["B"] else train_full)

    def run(num_passes):
        if s["B"]:
            p = train(p0, jax.device_put(epoch_orders(N, num_passes)))
        else:
            p = train(p0, num_passes)
        jax.block_until_ready(p)
        return {name: np.asarray(v) for name, v in p.items()}
    return run, {"threads": "XLA default (%d cores)" % os.cpu_count(), "note": "jax %s" % jax.__version__}


# ---------------------------------------------------------------- the table of contenders

CONTENDERS = {
    "fastbp": setup_fastbp,
    "fastbp NumPy reference": setup_fastbp_numpy,
    "lecture NumPy code": setup_lecture,
    "LectureClassifier": setup_fastbp_classifier,
    "scikit-learn MLPClassifier": setup_sklearn,
    "PyTorch eager": setup_torch_eager,
    "PyTorch torch.compile": setup_torch_compile,
    "JAX jit + fori_loop": setup_jax,
    "FastBPClassifier": setup_fastbp_mlp,
}
FASTBP = ("fastbp", "LectureClassifier", "FastBPClassifier")  # the rows that are fastbp itself, not peers
TORCH_HINT = "torch (install PyTorch's CPU build, see bench/README.md)"
JAX_HINT = "jax (pip install \"fastbp[bench]\")"
REQUIRES = {"PyTorch eager": ("torch", TORCH_HINT), "PyTorch torch.compile": ("torch", TORCH_HINT),
            "JAX jit + fori_loop": ("jax", JAX_HINT)}


def missing(contender):
    """None if the contender's package is installed, else why it is skipped."""
    if contender not in REQUIRES:
        return None
    module, hint = REQUIRES[contender]
    import importlib.util
    if importlib.util.find_spec(module) is None:
        return "%s not installed" % hint
    return None


def cannot_express(contender, s, dtype):
    """None if the contender can train shape s in dtype, else why not."""
    if contender == "lecture NumPy code":
        if len(s["hidden"]) != 1 or s["B"] is not None or dtype != "float64":
            return "the lecture's code has one hidden layer, full batches, float64"
    return None

