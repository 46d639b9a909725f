"""The threads that share a minibatch step's products and update (src/pool.h).

Expected values: the bits of the same computation on one thread (every shared
output is computed by one thread in a fixed order, so the thread count cannot
change a bit), and the NumPy reference's update (reference.sgd_update: the
same two element-wise operations, exact). Also: a forked child process, whose
parent's pool threads do not exist, trains to the same bits instead of waiting
for them forever; two training calls at once (one finds the pool busy and runs
on its own thread) both give their one-thread bits. And a step too small to
share its products runs its gather and update on the calling thread: the pool
never starts a worker (counted in a child process's /proc/self/task). The
back-off from a worker taken off its core (pool.h's fbp_backoff_t) is replayed on
made-up timings against the rule pool.h states: what it changes is speed only,
measured by `fastbp bench` (a spinning neighbour), never the bits.
"""

import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastbp
from fastbp import _backend, _layers, _vecmath, reference
from test_products import PATHS

# above 2 * FBP_UPDATE_CHUNK (src/loops.h), so the update is shared, with a remainder chunk
SHARED_UPDATE_SIZE = 3 * 16384 + 77
# a minibatch step of this network is one block whose packed products are shared
# (each at least FBP_GEMM_MIN_PARALLEL_WORK multiply-adds, src/gemm.h)
WIDE_HIDDEN = (480, 80)
CHILD_TIMEOUT_SECONDS = 120


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_shared_update_is_the_references_on_any_thread_count(dtype):
    rng = np.random.default_rng(31)
    param, dparam = rng.standard_normal(SHARED_UPDATE_SIZE).astype(dtype), rng.standard_normal(
        SHARED_UPDATE_SIZE).astype(dtype)
    expected_param, expected_dparam = param.copy(), dparam.copy()
    reference.sgd_update(expected_param, expected_dparam, 0.01, 0.03)
    for threads in (1, 2, 3):
        # each array followed by a chunk's length of NaN (FBP_UPDATE_CHUNK, src/loops.h), which no chunk may touch
        p, d = (np.concatenate([array, np.full(16384, np.nan, dtype)]) for array in (param, dparam))
        _layers.sgd_update(p, d, 0.01, 0.03, SHARED_UPDATE_SIZE, threads=threads)
        # the same two element-wise operations in the same order: exact
        np.testing.assert_array_equal(p[:SHARED_UPDATE_SIZE], expected_param, err_msg="%d threads" % threads)
        np.testing.assert_array_equal(d[:SHARED_UPDATE_SIZE], expected_dparam, err_msg="%d threads" % threads)
        assert np.isnan(p[SHARED_UPDATE_SIZE:]).all() and np.isnan(d[SHARED_UPDATE_SIZE:]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", _vecmath.available_paths())
def test_the_slabs_sums_are_added_in_slab_order_on_any_thread_count(dtype, path):
    # the driver adds its slabs' gradients into the first slab's, chunk by chunk (src/loops.h);
    # expected: NumPy's element-wise additions in slab order, exact; past size nothing changes
    rng = np.random.default_rng(41)
    slabs = rng.standard_normal((5, SHARED_UPDATE_SIZE + 9)).astype(dtype)
    expected = slabs[0].copy()
    for slab in slabs[1:]:
        expected[:SHARED_UPDATE_SIZE] = expected[:SHARED_UPDATE_SIZE] + slab[:SHARED_UPDATE_SIZE]
    for threads in (1, 2, 3):
        sums = slabs.copy()
        _layers.add_slabs(sums, SHARED_UPDATE_SIZE, path=path, threads=threads)
        np.testing.assert_array_equal(sums[0], expected, err_msg="%d threads" % threads)
        np.testing.assert_array_equal(sums[1:], slabs[1:], err_msg="the other slabs are read only")


def wide_minibatch_run(num_threads, dtype="float64"):
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((640, 70)), rng.integers(0, 10, 640)
    assert min(70 * WIDE_HIDDEN[0], WIDE_HIDDEN[0] * WIDE_HIDDEN[1]) * 128 >= _layers.GEMM_MIN_PARALLEL_WORK
    run = fastbp.train(X, y, WIDE_HIDDEN, num_passes=2, epsilon=1e-3, batch_size=128, num_threads=num_threads,
                       dtype=dtype)
    return {name: value for name, value in run.model.items() if name != "activation"}


def assert_same_model(got, expected, what):
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg="%s: %s" % (what, name))


def _train_in_child(queue):
    queue.put(wide_minibatch_run(2))


def test_a_forked_child_trains_with_threads_of_its_own():
    parent = wide_minibatch_run(2)  # starts the pool's workers in this process
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_train_in_child, args=(queue,))
    child.start()
    try:
        got = queue.get(timeout=CHILD_TIMEOUT_SECONDS)
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
    assert_same_model(got, parent, "forked child")


def test_two_training_calls_at_once_each_give_their_one_thread_bits():
    expected = {dtype: wide_minibatch_run(1, dtype) for dtype in ("float64", "float32")}
    results, errors = {}, []

    def train(dtype):
        try:
            results[dtype] = wide_minibatch_run(2, dtype)
        except Exception as error:  # reported below, with the thread's dtype
            errors.append((dtype, error))

    threads = [threading.Thread(target=train, args=(dtype,)) for dtype in expected]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for dtype in expected:
        assert_same_model(results[dtype], expected[dtype], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", PATHS)
def test_the_shared_gather_is_the_references_on_any_thread_count(path, dtype):
    # 150 features: two chunks of FBP_GATHER_FEATURES (64) and a remainder of 22
    # (src/loops.h), within which the vector paths' transposes (src/transpose.h:
    # 4, 8 or 16 features each) leave 2 or 6 features over; 35 samples: groups of
    # FBP_GATHER_ROWS (16) or of a transpose's rows, and a remainder of 3
    rng = np.random.default_rng(32)
    X, y = rng.standard_normal((300, 150)).astype(dtype), rng.integers(0, 5, 300).astype(np.intp)
    batch = rng.permutation(300)[:35].astype(np.intp)
    X_expected, y_expected = reference.gather_batch(X, y, batch)
    for threads in (1, 2, 3):
        for ld in (35, 40):  # feature rows side by side, and padded (layers.feature_stride)
            X_batch, y_batch = np.full(150 * ld, np.nan, dtype=dtype), np.empty(35, dtype=np.intp)
            _layers.gather_batch(X_batch, y_batch, X.ravel(), y, batch, 150, threads=threads, ld=ld, path=path)
            # copies, no arithmetic: exact; the padding untouched
            rows = X_batch.reshape(150, ld)
            np.testing.assert_array_equal(rows[:, :35].T, X_expected, err_msg="%d threads, ld %d" % (threads, ld))
            assert np.isnan(rows[:, 35:]).all()
            np.testing.assert_array_equal(y_batch, y_expected)


# A child trains minibatches on two threads and prints how many threads the
# process gained: pool.h starts its workers on their first job, so 0 means no
# step of the run shared anything. BLAS and OpenMP hold one thread each, so
# that only fastbp's own pool can add one.
THREAD_COUNT_CHILD = """
import os, sys, threading
import numpy as np
import fastbp

def native_threads():  # the process's threads that Python did not start (the progress bar's monitor)
    return len(os.listdir("/proc/self/task")) - threading.active_count()

D, H, B = (int(a) for a in sys.argv[1:4])
rng = np.random.default_rng(0)
X, y = rng.standard_normal((4 * B, D)), np.arange(4 * B) % 3
before = native_threads()
fastbp.train(X, y, H, num_passes=2, epsilon=1e-4, batch_size=B, num_threads=2)
print(native_threads() - before)
"""


def threads_started_by_minibatch_training(D, H, B):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", THREAD_COUNT_CHILD, str(D), str(H), str(B)], env=env,
                            capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc/self/task (Linux)")
@pytest.mark.skipif(not _backend.config()["openmp"], reason="a build without OpenMP trains on one thread")
def test_a_step_too_small_to_share_its_products_starts_no_thread():
    # 64-1024-3 on steps of 16: about 66 000 weights, over 2 * FBP_UPDATE_CHUNK (the
    # update could be shared), but 16 * 66 000 multiply-adds, under
    # FBP_GEMM_MIN_PARALLEL_WORK: no product is shared, nor the update or the gather
    assert threads_started_by_minibatch_training(64, 1024, 16) == 0
    # 64-2048-3 on steps of 16: each of the first layer's products (2048 x 16 x 64) and
    # the step (16 x 137 000) reach FBP_GEMM_MIN_PARALLEL_WORK, but 16 samples are
    # under FBP_GEMM_MIN_SHARED_SIDE: still nothing shared
    assert 2048 * 16 * 64 >= _layers.GEMM_MIN_PARALLEL_WORK and 16 < _layers.GEMM_MIN_SHARED_SIDE
    assert threads_started_by_minibatch_training(64, 2048, 16) == 0
    assert threads_started_by_minibatch_training(64, 1024, 128) == 1


# A shared job's timings, in nanoseconds: the caller's own chunks took 100 us
CALLER_NS = 100_000
ON_TIME_NS = 20_000  # the wait for a chunk a running worker finishes
LATE_NS = 3_000_000  # a worker that lost its core for a time slice


def test_a_late_worker_makes_the_next_jobs_run_on_the_caller_alone():
    # Expected (pool.h's rule): jobs on time change nothing; the first late wait
    # is answered with POOL_BACKOFF_FIRST jobs alone, each further late wait
    # with twice the last, up to POOL_BACKOFF_MAX
    first, most = _layers.POOL_BACKOFF_FIRST, _layers.POOL_BACKOFF_MAX
    on_time = _layers.pool_backoff([CALLER_NS] * 5, [ON_TIME_NS] * 5)
    np.testing.assert_array_equal(on_time, [0] * 5)
    late = _layers.pool_backoff([CALLER_NS] * 12, [LATE_NS] * 12)
    expected = [min(first * 2 ** i, most) for i in range(12)]
    assert expected[-1] == most
    np.testing.assert_array_equal(late, expected)


def test_a_job_shared_on_time_shortens_the_next_back_off_by_a_quarter():
    # late, late (2 * first), on time (penalty 3/4 of 2 * first), late (twice that)
    first = _layers.POOL_BACKOFF_FIRST
    skips = _layers.pool_backoff([CALLER_NS] * 4, [LATE_NS, LATE_NS, ON_TIME_NS, LATE_NS])
    np.testing.assert_array_equal(skips, [first, 2 * first, 0, 2 * (2 * first * 3 // 4)])
    # many jobs on time leave no back-off: the next late wait starts again at first
    skips = _layers.pool_backoff([CALLER_NS] * 40, [LATE_NS] + [ON_TIME_NS] * 38 + [LATE_NS])
    assert skips[-1] == first


def test_a_long_wait_is_late_only_beside_the_callers_own_work():
    # a wait over POOL_LATE_NS but within twice the caller's own work is a large
    # job's last chunk, not a late worker; a wait within POOL_LATE_NS never counts
    late_ns = _layers.POOL_LATE_NS
    big_job = 10 * late_ns
    skips = _layers.pool_backoff([big_job, big_job, 1000, 1000],
                                 [2 * big_job, 2 * big_job + 1, late_ns, late_ns + 1])
    first = _layers.POOL_BACKOFF_FIRST
    np.testing.assert_array_equal(skips, [0, first, 0, 2 * (first * 3 // 4)])


STALL_NS = 100_000_000  # a worker's stall: far over POOL_LATE_NS and twice the caller's wait for its claim


@pytest.mark.skipif(not _backend.config()["openmp"], reason="a build without OpenMP has no pool")
def test_the_pool_backs_off_after_a_worker_stalls_in_a_job():
    # Expected (pool.h): the stalled job's wait is late, so the next
    # POOL_BACKOFF_FIRST jobs run on the caller alone; the job after it is one of them
    after_stall, after_next = _layers.pool_stall(STALL_NS)
    assert after_stall != -1, "no worker claimed a chunk (a build without the pool?)"
    assert (after_stall, after_next) == (_layers.POOL_BACKOFF_FIRST, _layers.POOL_BACKOFF_FIRST - 1)
