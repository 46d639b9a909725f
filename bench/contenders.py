"""The contenders, and the child-process side of the benchmark (bench/run.py is the parent).

Every contender trains the same network from the same weights
(``fastbp.reference.init_params((D, H, C), seed=0)``) by the same algorithm:
full-batch gradient descent on the summed cross-entropy, ``W -= epsilon *
(dW_sum + reg_lambda * W)``, ``b -= epsilon * db_sum``, in float64, or in
float32 for the contenders whose name ends in " float32" (data and initial
weights rounded to float32, every array float32). The one exception is
scikit-learn at C = 2, which has one logistic output unit.

A child is started as ``python bench/contenders.py SPEC.json RESULT.json``; it
runs one contender on one size and writes its measurements to RESULT.json.
Memory: after imports, data, setup and the warm-up run, the child frees what
it can (gc, glibc ``malloc_trim``), reads its resident set size (VmRSS) as the
baseline and resets the kernel's peak-RSS mark (``/proc/self/clear_refs``);
after the timed runs, "peak memory added by training" is VmHWM minus that
baseline: the most memory the timed training calls held at once beyond what
was already resident (data, libraries, compiled code).
"""

import ctypes
import functools
import gc
import json
import math
import os
import statistics
import sys
import time
import traceback
import warnings

import numpy as np


# ---------------------------------------------------------------- sizes and data

def make_data(size):
    """-> X (N,D) float64, y (N,) int labels 0..C-1 for a size dict of bench/run.py."""
    import fastbp
    if size["data"] == "moons":
        return fastbp.datasets.make_moons(size["N"], noise=0.20, seed=0)
    if size["data"] == "classification":
        from sklearn.datasets import make_classification
        X, y = make_classification(n_samples=size["N"], n_features=size["D"], n_informative=size["D"] // 2 + 5,
                                   n_redundant=0, n_classes=size["C"], n_clusters_per_class=1, random_state=0)
        return np.ascontiguousarray(X, dtype=np.float64), y.astype(np.intp)
    if size["data"] == "spiral":
        return fastbp.datasets.make_spiral(size["N"] // size["C"], size["C"], seed=0)
    raise ValueError(size["data"])


def flops_per_pass(N, D, H, C):
    """Forward 2N(DH + HC) + backward 2N(DH + 2HC): no gradient with respect to X."""
    return 2 * N * (D * H + H * C) + 2 * N * (D * H + 2 * H * C)


def blas_threads():
    from threadpoolctl import threadpool_info
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return "BLAS ?"
    return "BLAS %d (%s)" % (pools[0]["num_threads"], pools[0].get("internal_api", "?"))


# ---------------------------------------------------------------- contenders
# Each setup returns (run, info): run(num_passes) trains from the initial
# weights and returns the final weights as a dict of NumPy arrays W1 b1 W2 b2;
# info says which threads it used and anything worth reporting.

def setup_fastbp(X, y, size, init, spec, dtype="float64"):
    import fastbp
    threads = spec["fastbp_threads"]

    def run(num_passes):
        return fastbp.train(X, y, hidden=size["H"], num_passes=num_passes, epsilon=size["epsilon"],
                            reg_lambda=size["reg_lambda"], seed=0, backend="cython", num_threads=threads,
                            dtype=dtype).model
    return run, {"threads": "%d (num_threads=%d)" % (threads, threads)}


def setup_fastbp_numpy(X, y, size, init, spec, dtype="float64"):
    import fastbp

    def run(num_passes):
        return fastbp.train(X, y, hidden=size["H"], num_passes=num_passes, epsilon=size["epsilon"],
                            reg_lambda=size["reg_lambda"], seed=0, backend="numpy", dtype=dtype).model
    return run, {"threads": blas_threads()}


def setup_lecture(X, y, size, init, spec):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import lecture_code
    lecture_code.setup(X, y, size["epsilon"], size["reg_lambda"])

    def run(num_passes):
        return lecture_code.build_model(size["H"], num_passes=num_passes)
    return run, {"threads": blas_threads()}


def sklearn_classifier(X, y, size, init, max_iter):
    """MLPClassifier configured as our algorithm, its weights set to ``init``.

    Per pass sklearn steps ``lr * (mean gradient + alpha * W / N)``; with
    lr = epsilon * N and alpha = reg_lambda that is ``epsilon * (dW_sum +
    reg_lambda * W)``, our step. With 2 classes its output is one logistic unit,
    started from the equivalent weights ``W2[:, 1] - W2[:, 0]``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    N = len(X)
    clf = MLPClassifier(hidden_layer_sizes=(size["H"],), activation="tanh", solver="sgd", alpha=size["reg_lambda"],
                        batch_size=N, learning_rate="constant", learning_rate_init=size["epsilon"] * N,
                        momentum=0.0, nesterovs_momentum=False, shuffle=False, tol=0.0,
                        n_iter_no_change=10**9, early_stopping=False, max_iter=1, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)  # one pass to let sklearn set itself up; the weights are replaced below
    clf.max_iter = max_iter

    def reset():
        W2, b2 = init["W2"], init["b2"]
        if size["C"] == 2:
            W2, b2 = W2[:, 1:] - W2[:, :1], b2[:, 1:] - b2[:, :1]
        clf.coefs_ = [init["W1"].copy(), W2.copy()]
        clf.intercepts_ = [init["b1"].ravel().copy(), b2.ravel().copy()]
        clf.loss_curve_, clf._no_improvement_count, clf.best_loss_, clf.t_ = [], 0, np.inf, 0

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)

    def weights():
        W2, b2 = clf.coefs_[1], clf.intercepts_[1].reshape(1, -1)
        if size["C"] == 2:  # the softmax network [0, w] computes the same loss, L2 term included
            W2, b2 = np.hstack([np.zeros_like(W2), W2]), np.hstack([np.zeros_like(b2), b2])
        return {"W1": clf.coefs_[0], "b1": clf.intercepts_[0].reshape(1, -1), "W2": W2, "b2": b2}
    return clf, reset, fit, weights


def setup_sklearn(X, y, size, init, spec):
    clf, reset, fit, weights = sklearn_classifier(X, y, size, init, 1)

    def run(num_passes):
        reset()
        clf.max_iter = num_passes
        fit()
        return weights()
    note = "same algorithm, 1 logistic output unit (C = 2)" if size["C"] == 2 else "same network and step"
    return run, {"threads": blas_threads(), "note": note}


def _torch_threads():
    import torch
    torch.set_num_threads(2)
    return torch, "%d (torch.set_num_threads(2))" % torch.get_num_threads()


def _torch_params(torch, init, requires_grad):
    # init holds float64 or float32 arrays: the tensors keep their dtype
    return [torch.tensor(init[name], requires_grad=requires_grad) for name in ("W1", "b1", "W2", "b2")]


def _torch_weights(params):
    return {name: p.detach().numpy().copy() for name, p in zip(("W1", "b1", "W2", "b2"), params)}


def setup_torch_eager(X, y, size, init, spec, dtype="float64"):
    """Eager PyTorch, gradients by autograd of the summed loss + reg/2 ||W||^2."""
    torch, threads = _torch_threads()
    import torch.nn.functional as F
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    eps, reg = size["epsilon"], size["reg_lambda"]

    def run(num_passes):
        params = _torch_params(torch, init, True)
        W1, b1, W2, b2 = params
        for _ in range(num_passes):
            z2 = torch.tanh(Xt @ W1 + b1) @ W2 + b2
            loss = F.cross_entropy(z2, yt, reduction="sum") + reg / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(eps * g)
        return _torch_weights(params)
    return run, {"threads": threads, "note": "autograd"}


def setup_torch_compile(X, y, size, init, spec, dtype="float64"):
    """torch.compile (inductor) of one pass with hand-written gradients; the loop stays in Python."""
    torch, threads = _torch_threads()
    import torch.nn.functional as F
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    eps, reg, C = size["epsilon"], size["reg_lambda"], size["C"]

    def step(W1, b1, W2, b2):
        a1 = torch.tanh(Xt @ W1 + b1)
        delta3 = torch.softmax(a1 @ W2 + b2, dim=1) - F.one_hot(yt, C).to(Xt.dtype)
        dW2 = a1.T @ delta3 + reg * W2
        db2 = delta3.sum(dim=0, keepdim=True)
        delta2 = (delta3 @ W2.T) * (1 - a1 * a1)
        dW1 = Xt.T @ delta2 + reg * W1
        db1 = delta2.sum(dim=0, keepdim=True)
        return W1 - eps * dW1, b1 - eps * db1, W2 - eps * dW2, b2 - eps * db2
    compiled = torch.compile(step, fullgraph=True, dynamic=False)

    def run(num_passes):
        params = _torch_params(torch, init, False)
        with torch.no_grad():
            for _ in range(num_passes):
                params = compiled(*params)
        return _torch_weights(params)
    return run, {"threads": threads, "note": "hand-written gradients, one compiled graph per pass"}


def setup_jax(X, y, size, init, spec, dtype="float64"):
    """The whole loop of passes in one jax.jit (lax.fori_loop), gradients by jax.grad."""
    import jax
    jax.config.update("jax_enable_x64", True)  # float32 arrays stay float32; float64 ones need it
    import jax.numpy as jnp
    from jax import lax
    eps, reg = size["epsilon"], size["reg_lambda"]
    Xj, yj = jax.device_put(X), jax.device_put(y.astype(np.int64))

    def loss(p, X, y):
        z2 = jnp.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        data = jnp.sum(jax.nn.logsumexp(z2, axis=1) - jnp.take_along_axis(z2, y[:, None], axis=1)[:, 0])
        return data + reg / 2 * (jnp.sum(p["W1"] ** 2) + jnp.sum(p["W2"] ** 2))

    grad = jax.grad(loss)

    def train(p, X, y, num_passes):
        def body(i, p):
            g = grad(p, X, y)
            return jax.tree_util.tree_map(lambda w, dw: w - eps * dw, p, g)
        return lax.fori_loop(0, num_passes, body, p)

    p0 = {name: jnp.asarray(init[name]) for name in ("W1", "b1", "W2", "b2")}
    start = time.perf_counter()
    compiled = jax.jit(train).lower(p0, Xj, yj, spec["passes"]).compile()
    compile_s = time.perf_counter() - start

    def run(num_passes):
        p = compiled(p0, Xj, yj, num_passes)
        jax.block_until_ready(p)
        return {name: np.asarray(v) for name, v in p.items()}
    return run, {"threads": "XLA default (%d cores)" % os.cpu_count(), "compile_s": compile_s,
                 "note": "jax %s, compile %.2f s (not timed)" % (jax.__version__, compile_s)}


FLOAT32 = " float32"  # the suffix of the float32 contenders
CONTENDERS = {
    "fastbp": setup_fastbp,
    "fastbp NumPy reference": setup_fastbp_numpy,
    "lecture NumPy code": setup_lecture,
    "scikit-learn MLPClassifier": setup_sklearn,
    "PyTorch eager": setup_torch_eager,
    "PyTorch torch.compile": setup_torch_compile,
    "JAX jit + fori_loop": setup_jax,
    # The same in float32, for fastbp and the peers that take float32 arrays
    # as they are. The lecture's code is float64 as written; scikit-learn's
    # MLPClassifier is not timed in float32 here (its set-up replaces its
    # weights with fastbp's float64 ones; a float32 variant is not built yet).
    "fastbp float32": functools.partial(setup_fastbp, dtype="float32"),
    "fastbp NumPy reference float32": functools.partial(setup_fastbp_numpy, dtype="float32"),
    "PyTorch eager float32": functools.partial(setup_torch_eager, dtype="float32"),
    "PyTorch torch.compile float32": functools.partial(setup_torch_compile, dtype="float32"),
    "JAX jit + fori_loop float32": functools.partial(setup_jax, dtype="float32"),
}
TORCH_HINT = "torch (not in the [bench] extra: install PyTorch's CPU build, see bench/README.md)"
JAX_HINT = "jax (pip install \".[bench]\")"
REQUIRES = {"PyTorch eager": TORCH_HINT, "PyTorch torch.compile": TORCH_HINT, "JAX jit + fori_loop": JAX_HINT,
            "PyTorch eager float32": TORCH_HINT, "PyTorch torch.compile float32": TORCH_HINT,
            "JAX jit + fori_loop float32": JAX_HINT}


def precision(contender):
    """"float32" or "float64": the precision a contender computes in."""
    return "float32" if contender.endswith(FLOAT32) else "float64"


def fastbp_of_precision(contender):
    """The fastbp row a contender is compared with: fastbp in its own precision."""
    return "fastbp" + (FLOAT32 if precision(contender) == "float32" else "")


# ---------------------------------------------------------------- memory

def _status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def _free_and_reset_peak():
    """Return freed heap to the OS, read RSS, reset the peak-RSS mark -> (baseline KiB, reset worked)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    baseline = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return baseline, True
    except OSError:
        return baseline, False


MIN_CPU_WINDOW_S = 0.5


def _system_busy_s():
    """CPU seconds all processes on the machine have used (from /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    return (sum(fields[:8]) - fields[3] - fields[4] - fields[7]) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s():
    times = os.times()
    return times.user + times.system


# ---------------------------------------------------------------- the child

def measure(spec):
    size, name = spec["size"], spec["contender"]
    result = {"contender": name, "size": size["name"], "passes": spec["passes"], "repeats": spec["repeats"]}
    X, y = make_data(size)
    import fastbp.reference as reference
    init = reference.init_params((size["D"], size["H"], size["C"]), seed=0)
    if precision(name) == "float32":  # the same data and weights, rounded (as fastbp's dtype="float32" does)
        X, init = X.astype(np.float32), reference.init_params((size["D"], size["H"], size["C"]), 0, np.float32)
    result["precision"] = precision(name)
    try:
        run, info = CONTENDERS[name](X, y, size, init, spec)
    except ImportError as error:
        result.update(status="skipped", note="%s not installed (%s)" % (REQUIRES.get(name, "a package"), error))
        return result
    result.update(info)

    start = time.perf_counter()
    if spec["warmup_passes"]:
        run(spec["warmup_passes"])
    result["warmup_s"] = time.perf_counter() - start
    rss_before = _status_kib("VmRSS")
    baseline, reset = _free_and_reset_peak()
    times, model = [], None
    busy0, own0, wall0 = _system_busy_s(), _own_cpu_s(), time.perf_counter()
    for _ in range(spec["repeats"]):
        model = None
        start = time.perf_counter()
        model = run(spec["passes"])
        times.append(time.perf_counter() - start)
    busy1, own1, wall1 = _system_busy_s(), _own_cpu_s(), time.perf_counter()
    peak = _status_kib("VmHWM") if reset else None
    # Cores this child kept busy, and cores other processes kept busy, while timed
    # (/proc/stat counts in clock ticks of 10 ms: shorter windows say nothing).
    result["own_cores"] = (own1 - own0) / (wall1 - wall0)
    if busy0 is not None and wall1 - wall0 >= MIN_CPU_WINDOW_S:
        result["other_cores"] = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)
    result.update(times=times, rss_after_warmup_mib=rss_before / 1024, rss_baseline_mib=baseline / 1024,
                  peak_rss_mib=peak / 1024 if peak else None,
                  peak_added_mib=(peak - baseline) / 1024 if peak else None,
                  X_mib=X.nbytes / 2**20)
    loss = float(reference.calculate_loss(model, X, y, size["reg_lambda"]))
    result["initial_loss"] = float(reference.calculate_loss(init, X, y, size["reg_lambda"]))
    result["final_loss"] = loss
    if spec["check_passes"] != spec["passes"]:
        result["check_loss"] = float(reference.calculate_loss(run(spec["check_passes"]), X, y, size["reg_lambda"]))
    else:
        result["check_loss"] = loss
    result["check_passes"] = spec["check_passes"]
    finite = all(np.all(np.isfinite(v)) for v in model.values()) and math.isfinite(loss)
    result["status"] = "ok" if finite else "diverged"
    if not finite:
        result["note"] = (result.get("note", "") + "; non-finite weights or loss").lstrip("; ")
    return result


def dgemm(spec):
    """Median time of A @ B (n x n float64) with 1 and 2 BLAS threads -> GFLOP/s."""
    from threadpoolctl import threadpool_limits
    n = spec["n"]
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    result = {"n": n}
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            A @ B
            times = []
            for _ in range(spec["repeats"]):
                start = time.perf_counter()
                A @ B
                times.append(time.perf_counter() - start)
        result["gflops_%dT" % threads] = 2 * n**3 / statistics.median(times) / 1e9
        result["times_%dT" % threads] = times
    return result


def sklearn_loss_check(spec):
    """sklearn's loss_curve_ against fastbp's losses from the same weights (a C >= 3 problem).

    sklearn records the loss before each update and fastbp (loss_every=1) the
    loss after each pass, so sklearn's curve[k + 1] is fastbp's losses[k], and
    curve[0] is the loss of the initial weights.
    """
    import fastbp
    import fastbp.reference as reference
    size, passes = spec["size"], spec["passes"]
    X, y = make_data(size)
    init = reference.init_params((size["D"], size["H"], size["C"]), seed=0)
    clf, reset, fit, weights = sklearn_classifier(X, y, size, init, passes)
    reset()
    fit()
    curve = np.array(clf.loss_curve_)
    run = fastbp.train(X, y, hidden=size["H"], num_passes=passes, epsilon=size["epsilon"],
                       reg_lambda=size["reg_lambda"], seed=0, loss_every=1)
    ours = np.concatenate([[reference.calculate_loss(init, X, y, size["reg_lambda"])], run.losses[:-1]])
    weights_diff = max(float(np.max(np.abs(weights()[k] - run.model[k]) / np.max(np.abs(run.model[k]))))
                       for k in ("W1", "b1", "W2", "b2"))
    return {"size": size, "passes": passes, "sklearn_first": curve[0], "sklearn_last": curve[-1],
            "fastbp_first": ours[0], "fastbp_last": ours[-1],
            "max_rel_diff": float(np.max(np.abs(curve - ours) / np.abs(ours))),
            "final_weights_max_rel_diff": weights_diff}


def main(spec_path, result_path):
    with open(spec_path) as f:
        spec = json.load(f)
    try:
        kind = spec.get("kind", "contender")
        result = {"contender": measure, "dgemm": dgemm, "sklearn_check": sklearn_loss_check}[kind](spec)
    except MemoryError:
        result = {"status": "failed", "note": "MemoryError"}
    except Exception as error:  # reported in the table; the parent goes on with the next contender
        traceback.print_exc()
        result = {"status": "failed", "note": "%s: %s" % (type(error).__name__, str(error).splitlines()[0][:200]
                                                           if str(error) else "")}
    with open(result_path, "w") as f:
        json.dump(result, f, default=float)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
