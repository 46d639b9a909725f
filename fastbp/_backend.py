"""The backends of fastbp.train and their layout: the compiled driver
(fastbp._driver: its dispatch path, its threads, its workspace's byte count)
and the NumPy reference, each behind the same small interface (run, loss,
snapshot, restore, weights_finite), and show_config, which reports the build
and the path in use.
"""

import os
import platform
import sys

import numpy as np

from . import reference

# The kernels' OpenMP threads sleep when they wait at the end of a parallel
# region, instead of spinning (unless the user set OMP_WAIT_POLICY): on a
# machine where another process holds a core, the spinning waiter took the
# time its partner needed, and two threads ran 1.4-9x slower than one; passive,
# 0.8-1.1x (bench/bench_gemm.py --contention). The OpenMP runtime reads the
# setting once, when the first compiled module loads it (here); the variable is
# then restored, so that nothing else in the process sees it changed.
_USER_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")
os.environ["OMP_WAIT_POLICY"] = _USER_WAIT_POLICY or "PASSIVE"
try:
    from . import _driver
except ImportError as error:  # a source checkout imported before (or without) its build
    raise ImportError("fastbp's compiled kernels (fastbp._driver) are not built here: install with "
                      "'python -m pip install .' and run from outside the source tree, or build them "
                      "in place with 'python -m pip install -e .'") from error
finally:
    if _USER_WAIT_POLICY is None:
        del os.environ["OMP_WAIT_POLICY"]

# The dispatch paths (src/dispatch.h), narrowest first, and the environment
# variable that forces one: see selected_path.
PATHS = _driver.PATHS
PATH_VARIABLE = _driver.PATH_VARIABLE


def available_paths():
    """The dispatch paths this build compiled and this CPU runs, narrowest first."""
    return _driver.available_paths()


def selected_path():
    """The path the compiled kernels take: the one FASTBP_KERNELS names (any of
    available_paths(); another raises ValueError), else the widest available."""
    return _driver.selected_path()


def default_num_threads():
    """The threads the compiled kernels use when num_threads is None: OpenMP's
    own default (omp_get_max_threads), which follows OMP_NUM_THREADS and a
    limit set by threadpoolctl.threadpool_limits, else the cores this process
    may run on."""
    return _driver.max_threads()


def flat_params(model, names):
    """The model's arrays, flat, in the order of names: the kernels' layout (weights, then biases)."""
    return np.concatenate([model[name].ravel() for name in names])


def feature_major(X, num_threads):
    """X (N,D) -> X.T, (D, ld): the kernels' layout, each feature's row padded where
    its length would make the rows alias in the cache (src/layout.pxi)."""
    return _driver.feature_major(np.ascontiguousarray(X), num_threads)


def feature_major_bytes(X):
    """The bytes of feature_major(X)."""
    return X.itemsize * X.shape[1] * _driver.row_stride(len(X), X.itemsize)


def workspace_bytes(sizes, num_samples, batch_size, itemsize, num_threads):
    """The bytes the compiled driver allocates for its workspace (every buffer of
    _driver.Workspace), as the driver itself counts them."""
    return _driver.workspace_bytes(list(sizes), num_samples, batch_size, itemsize, num_threads)


class CythonNetwork:
    """Flat parameters (weights then biases, the kernels' layout) and the workspace,
    allocated once per training call, in the model's dtype."""

    def __init__(self, model, sizes, X, y, activation, batch_size, num_threads):
        names = reference.parameter_names(len(sizes) - 1)
        self.params = flat_params(model, names)
        self.model = {}
        offset = 0
        for name in names:
            self.model[name] = self.params[offset:offset + model[name].size].reshape(model[name].shape)
            offset += model[name].size
        self.sizes = sizes
        # minibatches are gathered from X as it is, sample-major (X_rows); the
        # loss over all samples reads a feature-major copy, which the workspace
        # then makes when it is first needed
        minibatches = batch_size < len(X)
        self.workspace = _driver.Workspace(sizes, _driver.ACTIVATION_CODES[activation],
                                           None if minibatches else feature_major(X, num_threads), y, batch_size,
                                           num_threads, X_rows=X if minibatches else None)

    def snapshot(self, into=None):
        """A copy of the parameters, into the array a previous snapshot returned, if given."""
        if into is None:
            return self.params.copy()
        np.copyto(into, self.params)
        return into

    def restore(self, saved):
        self.params[:] = saved

    def weights_finite(self):
        return bool(np.isfinite(self.params).all())

    def run(self, first_pass, num_passes, orders, epsilons, reg_lambda, loss_every, losses):
        self.workspace.train_passes(self.params, orders.ravel(), epsilons, reg_lambda, first_pass, num_passes,
                                    loss_every, losses)

    def loss(self, reg_lambda):
        return self.workspace.loss(self.params, reg_lambda)


class NumpyNetwork:
    """The reference, pass by pass, on the model's own arrays (float64 or float32)."""

    def __init__(self, model, sizes, X, y, activation, batch_size, num_threads):
        # trains in place, on a copy: the model given may be the caller's initial_model
        self.model = {name: np.array(value) for name, value in model.items() if name != "activation"}
        self.X, self.y, self.batch_size = X, y, batch_size
        if activation != "tanh":
            self.model["activation"] = activation

    def snapshot(self, into=None):
        """A copy of the arrays, into the dict a previous snapshot returned, if given."""
        if into is None:
            return {name: np.array(value) for name, value in self.model.items() if name != "activation"}
        for name, value in into.items():
            np.copyto(value, self.model[name])
        return into

    def restore(self, saved):
        for name, value in saved.items():
            self.model[name][...] = value

    def weights_finite(self):
        return all(np.isfinite(value).all() for name, value in self.model.items() if name != "activation")

    # Overflow on the way to a NaN is reported by the divergence check (DivergenceError), not by NumPy.
    @np.errstate(over="ignore", invalid="ignore", divide="ignore")
    def run(self, first_pass, num_passes, orders, epsilons, reg_lambda, loss_every, losses):
        steps_per_pass = len(epsilons) // num_passes if num_passes else 0
        for i in range(num_passes):
            # step sizes as Python floats, which NumPy rounds to the model's dtype
            if self.batch_size == len(self.y):
                reference.train_pass(self.model, self.X, self.y, float(epsilons[i]), reg_lambda)
            else:
                reference.train_epoch(self.model, self.X, self.y, orders[i], self.batch_size,
                                      epsilons[i * steps_per_pass:(i + 1) * steps_per_pass].tolist(), reg_lambda)
            if loss_every and (first_pass + i) % loss_every == 0:
                losses[(first_pass + i) // loss_every] = self.loss(reg_lambda)

    @np.errstate(over="ignore", invalid="ignore", divide="ignore")
    def loss(self, reg_lambda):
        return reference.calculate_loss(self.model, self.X, self.y, reg_lambda)



NETWORKS = {"cython": CythonNetwork, "numpy": NumpyNetwork}


def config():
    """show_config's facts as a dict."""
    from . import __version__
    build = _driver.build_info()
    requested = os.environ.get(PATH_VARIABLE, "")
    path = selected_path()
    return {
        "fastbp": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "compiler": build["compiler"],
        "openmp": build["openmp"],
        "paths_built": build["paths_built"],
        "paths_available": available_paths(),
        "path": path,
        "path_reason": ("%s=%s" % (PATH_VARIABLE, requested) if requested
                        else "the widest path this CPU runs (%s unset)" % PATH_VARIABLE),
        "threads": default_num_threads(),
    }


def show_config(file=None):
    """Print how fastbp was built and what it runs here, as numpy.show_config does:
    its version, the compiler, OpenMP or not, the dispatch paths compiled and
    those this CPU runs, the path in use and why, the default thread count."""
    facts = config()
    lines = [
        "fastbp %s (Python %s, NumPy %s, %s)" % (facts["fastbp"], facts["python"], facts["numpy"], facts["machine"]),
        "compiler:        %s" % facts["compiler"],
        "OpenMP:          %s" % ("yes" if facts["openmp"] else "no (one thread)"),
        "paths built:     %s" % ", ".join(facts["paths_built"]),
        "paths this CPU runs: %s" % ", ".join(facts["paths_available"]),
        "path in use:     %s (%s)" % (facts["path"], facts["path_reason"]),
        "threads:         %d (OpenMP's default: OMP_NUM_THREADS, threadpoolctl, or the cores)" % facts["threads"],
    ]
    print("\n".join(lines), file=file if file is not None else sys.stdout)
