"""The one dispatch mechanism (src/dispatch.h, src/paths.pxi): whole training runs
forced on every path this CPU runs, the FASTBP_KERNELS variable, the path
checks, fastbp.show_config(), the thread default, and the workspace's byte count.

Expected values: the FMA paths (avx2, avx512) against each other exactly (the
same operations in the same order, one rounding per fused multiply-add); the
no-FMA baseline path against them within NO_FMA_RUN_RTOL on whole runs where
gradient descent is stable (docs/numerics.md, level 2), with identical
predicted labels; the byte count against the sizes of the arrays NumPy
actually allocated.
"""

import io
import json
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from agreement import STABLE_RUN_RTOL, assert_close
from fastbp import _backend, _driver, _layers, _vecmath, trainer
from kernel_layout import feature_major, perturbed_network

PATHS = _driver.available_paths()
FMA_PATHS = [path for path in PATHS if path != "baseline"]

# The baseline path computes each fused multiply-add of the tiled products and
# of the vector math's polynomials as a multiply and an add (two roundings):
# about an ulp per step away from the FMA paths. On whole runs where gradient
# descent is stable those differences are damped, not amplified (level 2 of
# docs/numerics.md), so the losses agree as closely as the compiled and NumPy
# backends do on such runs.
NO_FMA_RUN_RTOL = STABLE_RUN_RTOL


def test_the_driver_is_one_module_with_every_target_inside():
    assert PATHS[0] == "baseline" and set(PATHS) <= set(_driver.PATHS)
    assert _driver.PATHS == _layers.PATHS == _vecmath.PATHS == ("baseline", "avx2", "avx512")
    assert _driver.available_paths() == _layers.available_paths() == _vecmath.available_paths()
    assert _driver.best_path() == PATHS[-1]
    assert not hasattr(fastbp, "_kernels_avx2") and not hasattr(trainer, "kernel_module")


def _forced_runs(monkeypatch, path):
    # whole runs: the lecture's data, a wide network (tiled products, sigmoid) and minibatches, float32 too
    monkeypatch.setenv("FASTBP_KERNELS", path)
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    rng = np.random.default_rng(5)
    X_wide, y_wide = rng.standard_normal((300, 12)), rng.integers(0, 10, 300)
    y_wide[:10] = np.arange(10)
    # the first two are stable runs of docs/numerics.md (tests/api/test_training.py's STABLE_RUNS):
    # H = 5 runs on the loops, H = 20 on the tiled products
    return [fastbp.train(X, y, 5, loss_every=1000),
            fastbp.train(X, y, 20, loss_every=1000),
            fastbp.train(X_wide, y_wide, (40, 8), num_passes=300, epsilon=1e-3, activation="sigmoid",
                         loss_every=50),
            fastbp.train(X, y, 36, num_passes=40, activation="relu", batch_size=32, loss_every=10),
            fastbp.train(X, y, 20, num_passes=2000, dtype="float32", loss_every=100)]


@pytest.fixture(scope="module")
def runs_by_path():
    with pytest.MonkeyPatch.context() as monkeypatch:
        return {path: _forced_runs(monkeypatch, path) for path in PATHS}


def test_forcing_a_path_runs_it(monkeypatch):
    X, y, model = perturbed_network((2, 40, 2), 50, "tanh")
    for path in PATHS:
        monkeypatch.setenv("FASTBP_KERNELS", path)
        assert _driver.selected_path() == path
        workspace = _driver.Workspace((2, 40, 2), 0, feature_major(X), y, 50, 1)
        assert workspace.path == path
    monkeypatch.delenv("FASTBP_KERNELS")
    assert _driver.selected_path() == PATHS[-1]


@pytest.mark.skipif(len(FMA_PATHS) < 2, reason="this CPU runs fewer than two FMA paths")
def test_whole_runs_are_bit_identical_on_the_fma_paths(runs_by_path):
    for path in FMA_PATHS[1:]:
        for run, expected in zip(runs_by_path[path], runs_by_path[FMA_PATHS[0]]):
            np.testing.assert_array_equal(run.losses, expected.losses, err_msg=path)
            for name in expected.model:
                np.testing.assert_array_equal(run.model[name], expected.model[name], err_msg="%s %s" % (path, name))


@pytest.mark.skipif(not FMA_PATHS, reason="this CPU runs no FMA path")
def test_whole_stable_runs_on_the_no_fma_path_agree_within_the_stated_tolerance(runs_by_path):
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    for run, fused in zip(runs_by_path["baseline"][:2], runs_by_path[FMA_PATHS[-1]][:2]):
        assert len(run.losses) == len(fused.losses) == 20
        assert_close(run.losses, fused.losses, NO_FMA_RUN_RTOL, "losses")
        np.testing.assert_array_equal(fastbp.predict(run.model, X), fastbp.predict(fused.model, X))
    # the paths do differ: the no-FMA arithmetic is really the one that ran
    wide_baseline, wide_fused = runs_by_path["baseline"][2], runs_by_path[FMA_PATHS[-1]][2]
    assert not np.array_equal(wide_baseline.model["W1"], wide_fused.model["W1"])


def test_an_unknown_forced_path_is_refused_naming_the_variable(monkeypatch):
    X, y = fastbp.datasets.make_moons(20, seed=0)
    monkeypatch.setenv("FASTBP_KERNELS", "sse9")
    with pytest.raises(ValueError, match="FASTBP_KERNELS must be one of baseline, avx2, avx512, got 'sse9'"):
        fastbp.train(X, y, 3, num_passes=1)
    with pytest.raises(ValueError, match="FASTBP_KERNELS"):
        _vecmath.exp(np.empty(3), np.zeros(3))


@pytest.mark.parametrize("path", sorted(set(_driver.PATHS) - set(PATHS)) or ["none"])
def test_a_path_this_cpu_cannot_run_is_refused_everywhere(monkeypatch, path):
    if path == "none":
        pytest.skip("this CPU runs every path")
    X, y = fastbp.datasets.make_moons(20, seed=0)
    monkeypatch.setenv("FASTBP_KERNELS", path)
    with pytest.raises(ValueError, match="cannot run|has only the paths"):
        fastbp.train(X, y, 3, num_passes=1)
    monkeypatch.delenv("FASTBP_KERNELS")
    with pytest.raises(ValueError, match="cannot run|has only the paths"):
        _layers.tanh_forward(np.empty(3), np.zeros(3), 3, path=path)


def test_the_layer_wrappers_check_their_path():
    a = np.empty(3)
    for bad in ("sse9", "default", 2):
        with pytest.raises(ValueError, match="path must be one of"):
            _layers.tanh_forward(a, np.zeros(3), 3, path=bad)
        with pytest.raises(ValueError, match="path must be one of"):
            _layers.combine_features(bad, a, a, a, 1, 1, a, True, a, False, 3, 1, 1)


def test_every_path_of_a_layer_kernel_agrees_with_the_reference():
    from fastbp import reference
    X, _, model = perturbed_network((3, 9, 4), 37, "tanh")
    for path in PATHS:
        z = np.empty(37 * 9)
        _layers.dense_forward(z, feature_major(X), model["W1"].ravel(), model["b1"].ravel(), 37, 3, 9, path=path)
        assert_close(z.reshape(9, 37).T, reference.dense_forward(X, model["W1"], model["b1"]), 1e-13, path)


def test_show_config_reports_the_build_and_the_path_in_use(monkeypatch):
    out = io.StringIO()
    monkeypatch.setenv("FASTBP_KERNELS", "baseline")
    fastbp.show_config(file=out)
    text = out.getvalue()
    assert fastbp.__version__ in text
    assert "compiler:" in text and _driver.build_info()["compiler"] in text
    assert "OpenMP:          yes" in text  # the build uses it on this platform (setup.py)
    assert "paths built:     baseline, avx2, avx512" in text
    assert "path in use:     baseline (FASTBP_KERNELS=baseline)" in text
    assert "threads:         %d" % _backend.default_num_threads() in text
    monkeypatch.delenv("FASTBP_KERNELS")
    out = io.StringIO()
    fastbp.show_config(file=out)
    assert "path in use:     %s (the widest path this CPU runs" % PATHS[-1] in out.getvalue()


def _threads_in_a_fresh_process(environment, code):
    # OMP_NUM_THREADS is read once, when the OpenMP runtime loads: a fresh process
    import os
    env = dict(os.environ, **environment)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_thread_default_follows_omp_num_threads_and_threadpoolctl():
    code = ("import json, fastbp.trainer as t\nfrom threadpoolctl import threadpool_limits\n"
            "before = t.default_num_threads()\n"
            "with threadpool_limits(1): inside = t.default_num_threads()\n"
            "print(json.dumps([before, inside, t.default_num_threads()]))")
    for requested in (1, 3):
        before, inside, after = _threads_in_a_fresh_process({"OMP_NUM_THREADS": str(requested)}, code)
        assert before == after == requested and inside == 1
    # and a limit of 1 reaches a run: one thread where two would otherwise be used
    code = ("import json, numpy as np, fastbp\nfrom threadpoolctl import threadpool_limits\n"
            "from fastbp import _backend\nX = np.random.default_rng(0).standard_normal((4000, 8))\n"
            "y = (X[:, 0] > 0).astype(int)\n"
            "seen = []\n_Workspace = _backend._driver.Workspace\n"
            "def spy(*args, **kw):\n    w = _Workspace(*args, **kw); seen.append(w.num_threads); return w\n"
            "_backend._driver.Workspace = spy\n"
            "with threadpool_limits(1): fastbp.train(X, y, 16, num_passes=1)\n"
            "fastbp.train(X, y, 16, num_passes=1)\nprint(json.dumps(seen))")
    assert _threads_in_a_fresh_process({"OMP_NUM_THREADS": "2"}, code) == [1, 2]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes,N,batch_size,num_threads", [((2, 3, 2), 200, 200, 1), ((20, 64, 10), 5000, 5000, 2),
                                                            ((3, 40, 7, 2), 3000, 64, 2), ((5, 4, 4), 9, 9, 4),
                                                            ((70, 96, 80, 10), 1000, 128, 2)])
def test_the_workspace_byte_count_is_what_it_allocates(sizes, N, batch_size, num_threads, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], N).astype(np.intp)
    workspace = _driver.Workspace(sizes, 0, _driver.feature_major(X, 1), y, batch_size, num_threads)
    assert workspace.dtype == dtype
    allocated = sum(array.base.nbytes if array.base is not None else array.nbytes
                    for array in workspace.buffers.values())
    counted = _backend.workspace_bytes(sizes, N, batch_size, np.dtype(dtype).itemsize, num_threads)
    assert workspace.nbytes == counted == allocated
    assert allocated > 0


def test_the_memory_guard_asks_the_driver_for_its_byte_count(monkeypatch):
    X, y = fastbp.datasets.make_moons(200, seed=0)
    monkeypatch.setattr(_backend._driver, "workspace_bytes", lambda *args: 10**18)
    with pytest.raises(ValueError, match="memory"):
        fastbp.train(X, y, 3, num_passes=1)
    fastbp.train(X, y, 3, num_passes=1, backend="numpy")  # the reference allocates no workspace
