"""Mutation check: does the test suite notice deliberate mistakes?

Each entry of MUTATIONS is a meaningful mistake: one or more edits
(file, old text, new text) and the narrowest tests that should fail because of
it. For each, this script copies the repository's tracked files and the built
kernels (fastbp/*.so) into a temporary directory, applies the edits, rebuilds
the kernels there only if an edit touches src/ or setup.py, and runs

    python -m pytest -x -q -p no:cacheprovider TESTS

in the copy. A non-zero exit kills the mutation; a zero exit means it
SURVIVED, a hole in the tests. Every old text must occur exactly once in its
file, and every test it names must exist (its file, and the function or class
a node id names in it), or the entry is STALE (the code or the tests moved on;
retarget the entry): stale entries are reported and fail the run, never skipped.

One extra row builds the kernels with FASTBP_DEBUG=1 (Cython's bounds and
wraparound checks on, and AddressSanitizer, since the hot kernels index raw
pointers), runs the kernel tests against that build with the sanitizer
preloaded, and checks that an out-of-range read really stops there: that row
must pass.

Run from anywhere; it first brings the in-place build of the kernels up to
date (python setup.py build_ext --inplace):

    python tools/mutations.py            # every mutation and the debug build, 2 at a time
    python tools/mutations.py --list     # the table, with each entry's status (1 if one is stale)
    python tools/mutations.py --only "update with the wrong sign" --only "debug build"

Exit status: 0 when every mutation is killed, none is stale and the debug
build passes; 1 otherwise. Not part of the regular test run.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = "src/layers.pxd"
LOOPS = "src/loops_kernels.h"
WORKSPACE = "src/workspace.pxi"
PASSES = "src/passes.pxi"
DISPATCH = "tests/kernels/test_dispatch.py::"
REBUILD_PREFIXES = ("src/", "setup.py")
JOBS = 2  # the development machine's cores
TIMEOUT_SECONDS = 900  # a mutation that makes a test hang counts as killed, after this long
# A rebuild compiles every target's copy of the hot loops into one module; on a
# loaded machine it can take longer than a test is given, and a slow build is not a failure.
BUILD_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class Mutation:
    name: str
    edits: tuple  # (file, old text, new text), each old text exactly once in its file
    tests: tuple  # pytest paths or node ids, relative to the repository root


def mutation(name, file, old, new, *tests):
    return Mutation(name, ((file, old, new),), tests)


FUSED = "tests/kernels/test_fused.py::"
DEMO = "tests/apps/test_demo.py::"
CHECKER = "tests/api/test_checker.py::test_every_named_mistake_is_recognised"
SCHEDULES = "tests/api/test_lecture_exercises.py::test_schedules_follow_their_closed_forms"
BLOCKED = "tests/kernels/test_kernels.py::test_the_row_blocked_pass_agrees_with_the_reference"
F32 = "tests/kernels/test_float32.py::"
ROBUST = "tests/api/test_robustness.py::"
DATASETS = "tests/api/test_datasets.py::"
FIGURES = "fastbp/playground_app/figures.py"
PLAYGROUND_FIGURES = "tests/apps/test_playground_figures.py::"
ESTIMATOR_FILES = "tests/api/test_estimator_model_files.py::"
MLP_THREADS = "tests/kernels/test_mlp_threads.py::"

MUTATIONS = (
    # ---- the seven that once survived (issue 7)
    mutation("compiled backend ignores reg_lambda", "fastbp/_backend.py",
             "self.workspace.train_passes(self.params, orders.ravel(), epsilons, reg_lambda,",
             "self.workspace.train_passes(self.params, orders.ravel(), epsilons, 0.01,",
             "tests/api/test_training.py::test_reg_lambda_other_than_the_lectures_reaches_training_and_recording"),
    Mutation("minibatch L2 share B/N dropped in kernel and reference",
             ((PASSES, "reg_lambda * (<double> B / N)", "reg_lambda"),
              ("fastbp/reference.py", "reg_lambda * (len(y_batch) / N)", "reg_lambda")),
             (FUSED + "test_a_minibatch_step_descends_the_documented_objective",)),
    mutation("demo ignores --epsilon", "fastbp/demo.py",
             "num_passes=num_passes, epsilon=epsilon,", "num_passes=num_passes, epsilon=0.01,",
             DEMO + "test_short_demo_options_take_effect"),
    mutation("demo ignores --seed for its data", "fastbp/demo.py",
             "X, y = datasets.make_moons(DATA_SIZE, noise=DATA_NOISE, seed=seed)",
             "X, y = datasets.make_moons(DATA_SIZE, noise=DATA_NOISE, seed=0)",
             DEMO + "test_short_demo_options_take_effect"),
    mutation("demo ignores --seed for the initial weights", "fastbp/demo.py",
             'seed=seed, backend="cython", loss_every=loss_every',
             'seed=0, backend="cython", loss_every=loss_every',
             DEMO + "test_short_demo_options_take_effect"),
    mutation("demo test accuracy of 'always class 0'", "fastbp/demo.py",
             "accuracy(trainer.predict(model, X_test), y_test), trainer.calculate_loss",
             "accuracy(np.zeros_like(y_test), y_test), trainer.calculate_loss",
             DEMO + "test_short_demo_accuracies"),
    mutation("checker: 'regularisation added twice' emptied", "fastbp/exercise/mistakes.py",
             '    return {"dW2": [expected["dW2"] + reg_lambda * lecture.W2], '
             '"dW1": [expected["dW1"] + reg_lambda * lecture.W1]}',
             "    return {}", CHECKER),
    mutation("checker: 'wrong tanh derivative' emptied", "fastbp/exercise/mistakes.py",
             "wrong_derivatives = (1 - np.tanh(a1) ** 2, (1 - a1) ** 2, 1 - a1, a1 * (1 - a1))",
             "wrong_derivatives = ()", CHECKER),
    # ---- pictures and animation (issue 12)
    mutation("pictures: boundary grid at the lecture's step whatever the pixels", "fastbp/plot.py",
             "return min(h, x_range / max(box.width, 1), y_range / max(box.height, 1))", "return h",
             DEMO + "test_every_boundary_grid_has_a_point_per_pixel"),
    mutation("animation: no frame at the spikes' tops", "fastbp/animate.py",
             "set(log_spaced.tolist()) | set(spike_passes(losses)) | {", "set(log_spaced.tolist()) | {",
             "tests/apps/test_animate.py::test_every_spike_of_the_loss_gets_a_frame_at_its_top"),
    # ---- kernels
    mutation("softmax without the row max", LOOPS,
             "probs[c * n + i] = z[c * n + i] - scratch[i];", "probs[c * n + i] = z[c * n + i];",
             "tests/kernels/test_kernels.py::test_softmax_forward_and_loss"),
    mutation("tanh derivative 1 - a instead of 1 - a*a", LOOPS,
             "dz[i] = dout[i] * ((real)1 - a[i] * a[i]);", "dz[i] = dout[i] * ((real)1 - a[i]);",
             "tests/kernels/test_kernels.py::test_tanh_forward_and_backward"),
    mutation("sigmoid derivative 1 - a instead of a (1 - a)", LOOPS,
             "dz[i] = dout[i] * (a[i] * ((real)1 - a[i]));", "dz[i] = dout[i] * ((real)1 - a[i]);",
             "tests/kernels/test_kernels.py::test_activation_forward_and_backward"),
    mutation("relu derivative 1 at a = 0", LOOPS,
             "dz[i] = dout[i] * (a[i] > (real)0 ? (real)1 : (real)0);",
             "dz[i] = dout[i] * (a[i] >= (real)0 ? (real)1 : (real)0);",
             "tests/kernels/test_kernels.py::test_activation_forward_and_backward"),
    mutation("bias gradient dropped", "src/narrow_products.pxd",
             "db[k] = db[k] + total(path, delta + k * n, n)", "db[k] = db[k] + 0.0",
             "tests/kernels/test_kernels.py::test_dense_backward"),
    mutation("L2 term applied to the biases", PASSES,
             "sgd_update(ws.path, params + ws.num_weights, grads + ws.num_weights, step, no_decay,",
             "sgd_update(ws.path, params + ws.num_weights, grads + ws.num_weights, step, weight_decay,",
             FUSED + "test_train_pass_matches_the_reference"),
    mutation("update with the wrong sign", LOOPS,
             "param[i] = param[i] + (-epsilon) * dparam[i];", "param[i] = param[i] + epsilon * dparam[i];",
             "tests/kernels/test_kernels.py::test_sgd_update"),
    mutation("gather_batch: every sample of a group read from the group's first", "src/loops.h",
             "(batch ? batch[i0 + k] : i0 + k) * D", "(batch ? batch[i0] : i0 + k) * D",
             "tests/kernels/test_kernels.py::test_gather_batch"),
    mutation("vector gather: every sample of a group read from the group's first", "src/loops.h",
             "(group ? group[k] : i0 + k) * D", "(group ? group[0] : i0 + k) * D",
             "tests/kernels/test_kernels.py::test_gather_batch"),
    mutation("vector gather: the AVX-512 double transpose writes columns 4-7 as 0-3", "src/transpose.h",
             "_mm512_storeu_pd(out + (c + 4) * ld, _mm512_shuffle_f64x2(u[c], u[4 + c], 0xdd));",
             "_mm512_storeu_pd(out + (c + 4) * ld, _mm512_shuffle_f64x2(u[c], u[4 + c], 0x88));",
             "tests/kernels/test_pool.py::test_the_shared_gather_is_the_references_on_any_thread_count"),
    mutation("vector gather: the AVX-512 float transpose takes its last row from the one before", "src/transpose.h",
             "        r[k] = _mm512_loadu_ps(rows[k] + c0);",
             "        r[k] = _mm512_loadu_ps(rows[k < 15 ? k : 14] + c0);",
             "tests/kernels/test_pool.py::test_the_shared_gather_is_the_references_on_any_thread_count"),
    mutation("vector gather: the AVX2 float transpose exchanges its halves", "src/transpose.h",
             "_mm256_storeu_ps(out + c * ld, _mm256_permute2f128_ps(u[c], u[4 + c], 0x20));",
             "_mm256_storeu_ps(out + c * ld, _mm256_permute2f128_ps(u[c], u[4 + c], 0x02));",
             "tests/kernels/test_pool.py::test_the_shared_gather_is_the_references_on_any_thread_count"),
    mutation("vector gather: the AVX2 double transpose writes column 1 as column 0", "src/transpose.h",
             "_mm256_storeu_pd(out + ld, _mm256_permute2f128_pd(t1, t3, 0x20));",
             "_mm256_storeu_pd(out + ld, _mm256_permute2f128_pd(t0, t2, 0x20));",
             "tests/kernels/test_pool.py::test_the_shared_gather_is_the_references_on_any_thread_count"),
    mutation("last batch's L2 share batch_size/N instead of B/N", PASSES,
             "reg_lambda * (<double> B / N)", "reg_lambda * (<double> ws.batch_size / N)",
             FUSED + "test_a_minibatch_step_descends_the_documented_objective"),
    mutation("calculate_loss: L2 term without the 1/2", PASSES,
             "data_loss = data_loss + reg_lambda / 2 * weight_norm", "data_loss = data_loss + reg_lambda * weight_norm",
             FUSED + "test_calculate_loss_matches_the_reference"),
    mutation("fused loop: loss recorded one pass late", PASSES,
             "if loss_every > 0 and p % loss_every == 0:", "if loss_every > 0 and (p + 1) % loss_every == 0:",
             FUSED + "test_train_passes_with_loss_recording_matches_the_reference"),
    mutation("fused loop: every pass takes the first step size", PASSES,
             "train_pass(ws, params, <const real *> ws.X, ws.ld_X, ws.y, N, epsilons[i], reg_lambda)",
             "train_pass(ws, params, <const real *> ws.X, ws.ld_X, ws.y, N, epsilons[0], reg_lambda)",
             FUSED + "test_train_passes_with_loss_recording_matches_the_reference"),
    # ---- the row-blocked driver, the tiled products and the vector math
    mutation("slab sums: the last slab left out", "src/loops_kernels.h",
             "for (ptrdiff_t s = 1; s < num_slabs; s++) {", "for (ptrdiff_t s = 1; s < num_slabs - 1; s++) {",
             "tests/kernels/test_pool.py::test_the_slabs_sums_are_added_in_slab_order_on_any_thread_count"),
    mutation("element-wise chunks: the elements past the last whole chunk left out", "src/loops.h",
             "(size + FBP_UPDATE_CHUNK - 1) / FBP_UPDATE_CHUNK,\n", "size / FBP_UPDATE_CHUNK,\n",
             "tests/kernels/test_pool.py::test_the_slabs_sums_are_added_in_slab_order_on_any_thread_count",
             "tests/kernels/test_pool.py::test_the_shared_update_is_the_references_on_any_thread_count"),
    mutation("element-wise chunks: the last chunk as long as the others", "src/loops.h",
             "j->size - start < FBP_UPDATE_CHUNK ? j->size - start : FBP_UPDATE_CHUNK);",
             "FBP_UPDATE_CHUNK);",
             "tests/kernels/test_pool.py::test_the_shared_update_is_the_references_on_any_thread_count",
             "tests/kernels/test_pool.py::test_the_slabs_sums_are_added_in_slab_order_on_any_thread_count"),
    mutation("labels of a block not advanced with its rows", PASSES,
             "network_backward_block(ws, thread, grads, params, X + start, ld_X, y + start, n, one_block)",
             "network_backward_block(ws, thread, grads, params, X + start, ld_X, y, n, one_block)", BLOCKED),
    mutation("slab partition: the last block left out", WORKSPACE,
             "return slab * num_blocks(ws, rows) // num_slabs(ws, rows)",
             "return slab * (num_blocks(ws, rows) - 1) // num_slabs(ws, rows)", BLOCKED),
    mutation("row blocks one row short", WORKSPACE,
             "return min(ws.block_rows, rows - block * ws.block_rows)",
             "return min(ws.block_rows - 1, rows - block * ws.block_rows)", BLOCKED),
    mutation("blocks a multiple of 8 rows, not of the tile's 32-sample columns", WORKSPACE,
             "cache_rows = (fit_rows + tile_rows // 2) // tile_rows * tile_rows",
             "cache_rows = fit_rows // 8 * 8",
             "tests/kernels/test_kernels.py::test_blocks_are_whole_columns_of_the_widest_tile"),
    mutation("page rule on rows instead of bytes", WORKSPACE,
             "if block_rows * itemsize % PAGE_BYTES == 0 and block_rows > tile_rows:",
             "if block_rows % PAGE_BYTES == 0 and block_rows > tile_rows:",
             "tests/kernels/test_kernels.py::test_blocks_are_whole_columns_of_the_widest_tile"),
    mutation("aligned_empty skips bytes as elements", WORKSPACE,
             "% CACHE_LINE) % CACHE_LINE) // dtype.itemsize",
             "% CACHE_LINE) % CACHE_LINE)",
             "tests/kernels/test_kernels.py::test_aligned_empty_starts_on_a_cache_line"),
    mutation("two-class softmax: the classes' probabilities swapped", LOOPS,
             "real p0 = second_larger ? e * larger : larger;",
             "real p0 = second_larger ? larger : e * larger;",
             "tests/kernels/test_kernels.py::test_softmax_forward_and_loss"),
    mutation("delta: 1 subtracted from class 0 whatever the label", LOOPS,
             "delta[c * n + i] = probs[c * n + i] - (y[i] == c ? (real)1 : (real)0);",
             "delta[c * n + i] = probs[c * n + i] - (c == 0 ? (real)1 : (real)0);",
             "tests/kernels/test_kernels.py::test_softmax_cross_entropy_backward"),
    mutation("tiled forward reads W transposed", LAYERS,
             "combine_features(path, z, inp, ld_inp, W, K, 1, b, NULL, n, J, K)",
             "combine_features(path, z, inp, ld_inp, W, 1, K, b, NULL, n, J, K)",
             "tests/kernels/test_kernels.py::test_dense_forward"),
    mutation("tiled weight gradient: partial sums never added into the gradient", PASSES,
             "            fold_lanes(ws.path, grads + ws.weight_offsets[l], <real *> thread_lanes(ws, thread, l), "
             "J * K)\n",
             "            pass\n", BLOCKED),
    mutation("tiled weight gradient: partial sums not zeroed at a slab's start", PASSES,
             "            memset(thread_lanes(ws, thread, l), 0,",
             "            pass  # (thread_lanes(ws, thread, l), 0,",
             BLOCKED),
    mutation("tiled weight gradient: the samples after the last full lane group dropped",
             "src/tiled_products_kernels.h",
             "*lane = SFMA(A[a * ld_a + i], B[b * n + i], *lane);", "*lane = *lane;",
             "tests/kernels/test_products.py"),
    mutation("fused tanh backward: 1 + a*a", "src/tiled_products_kernels.h",
             "VSTORE(out + r * n + v * W, acc[r][v] * (one - a * a));",
             "VSTORE(out + r * n + v * W, acc[r][v] * (one + a * a));",
             "tests/kernels/test_products.py"),
    mutation("tiled forward: the bias added twice", "src/tiled_products_kernels.h",
             "VSTORE(out + r * n + v * W, acc[r][v] + b);", "VSTORE(out + r * n + v * W, (acc[r][v] + b) + b);",
             "tests/kernels/test_kernels.py::test_dense_forward"),
    # ---- the packed GEMM of the widest layers
    mutation("packed GEMM: the bias added twice", "src/gemm_kernels.h",
             "acc[r][v] = acc[r][v] + bias_r;", "acc[r][v] = (acc[r][v] + bias_r) + bias_r;",
             "tests/kernels/test_gemm.py::test_gemm_matches_numpy"),
    mutation("packed GEMM: a transposed B panel's last p of each step left unpacked", "src/gemm_kernels.h",
             "for (ptrdiff_t p = p0; p < p0 + steps; p++)", "for (ptrdiff_t p = p0; p < p0 + steps - 1; p++)",
             "tests/kernels/test_gemm.py::test_gemm_matches_numpy"),
    mutation("packed GEMM: the forward product's activation left out of its tiles", "src/gemm_kernels.h",
             "act(c + r * ldc, before_act + r * NR, nv * W);",
             "memcpy(c + r * ldc, before_act + r * NR, nv * W * sizeof(real));",
             "tests/kernels/test_gemm.py::test_the_forward_product_applies_the_activation_loops_bits"),
    mutation("driver: a hidden layer's activation applied again after the product applied it", "src/network_blocks.pxi",
             "if l < ws.num_layers - 1 and fused == FBP_GEMM_NO_ACTIVATION:", "if l < ws.num_layers - 1:",
             "tests/kernels/test_gemm.py::test_a_wide_network_pass_agrees_with_the_reference"),
    mutation("shared tiles: every part adds the first part's biases", "src/gemm.h",
             "j->bias ? j->bias + r0 : NULL", "j->bias",
             "tests/kernels/test_gemm.py::test_a_narrow_layers_tiles_shared_between_threads_change_no_bit"),
    mutation("packed GEMM: the sum restarts from zero at each panel of KC terms", "src/gemm_kernels.h",
             "int first = !accumulate && pc == 0;", "int first = !accumulate;",
             "tests/kernels/test_gemm.py::test_gemm_matches_numpy"),
    mutation("packed GEMM: an edge tile's last column not written back", "src/gemm_kernels.h",
             "memcpy(c + r * ldc, tile + r * NR, cols * sizeof(real));",
             "memcpy(c + r * ldc, tile + r * NR, (cols - 1) * sizeof(real));",
             "tests/kernels/test_gemm.py::test_gemm_follows_the_documented_order_exactly"),
    mutation("packed GEMM: A read in place from its first rows for every tile", "src/gemm_kernels.h",
             "FBP_FN(fbp_gemm_any_tile)(c, ldc, A + m * a_m + pc, a_m, 1,",
             "FBP_FN(fbp_gemm_any_tile)(c, ldc, A + ic * a_m + pc, a_m, 1,",
             "tests/kernels/test_gemm.py::test_gemm_follows_the_documented_order_exactly"),
    mutation("packed GEMM: threads share one packing buffer", "src/gemm.h",
             "j->pack + (ptrdiff_t)worker * FBP_GEMM_PACK_ELEMENTS,", "j->pack,",
             "tests/kernels/test_gemm.py::test_sharing_the_rows_between_threads_changes_no_bit"),
    mutation("a step too small to share its products shares its update and gather", WORKSPACE,
             "    if in_parallel(ws, rows) or shares_products:",
             "    if True:",
             "tests/kernels/test_pool.py::test_a_step_too_small_to_share_its_products_starts_no_thread"),
    mutation("packed GEMM: a product of a 16-row minibatch shared between the threads", "src/gemm.h",
             "work >= FBP_GEMM_MIN_PARALLEL_WORK && N >= FBP_GEMM_MIN_SHARED_SIDE && P >= FBP_GEMM_MIN_SHARED_SIDE;",
             "work >= FBP_GEMM_MIN_PARALLEL_WORK;",
             "tests/kernels/test_pool.py::test_a_step_too_small_to_share_its_products_starts_no_thread"),
    mutation("pool back-off: a late worker never backed off from", "src/pool.h",
             "        b->skip = b->penalty;", "        b->skip = 0;",
             "tests/kernels/test_pool.py::test_a_late_worker_makes_the_next_jobs_run_on_the_caller_alone"),
    mutation("pool back-off: a long wait late whatever the caller's own work", "src/pool.h",
             "if (wait_ns > FBP_POOL_LATE_NS && wait_ns > 2 * caller_ns) {", "if (wait_ns > FBP_POOL_LATE_NS) {",
             "tests/kernels/test_pool.py::test_a_long_wait_is_late_only_beside_the_callers_own_work"),
    mutation("pool back-off: a job shared on time leaves the back-off as long", "src/pool.h",
             "        b->penalty = b->penalty * 3 / 4;", "        b->penalty = b->penalty;",
             "tests/kernels/test_pool.py::test_a_job_shared_on_time_shortens_the_next_back_off_by_a_quarter"),
    mutation("pool back-off: the jobs of a back-off still shared", "src/pool.h",
             "    if (free_pool && fbp_backoff_skips(&fbp_pool.backoff)) {", "    if (0) {",
             "tests/kernels/test_pool.py::test_the_pool_backs_off_after_a_worker_stalls_in_a_job"),
    mutation("pool back-off: the jobs not timed", "src/pool.h",
             "    fbp_backoff_after_job(&fbp_pool.backoff, worked - started, fbp_pool_now_ns() - worked);", "",
             "tests/kernels/test_pool.py::test_the_pool_backs_off_after_a_worker_stalls_in_a_job"),
    mutation("a minibatch step of a packed network split into slabs", WORKSPACE,
             "        return int(batch_size)", "        return block_rows_for(sizes, batch_size, itemsize)",
             "tests/kernels/test_kernels.py::test_a_minibatch_step_of_a_packed_network_is_one_block"),
    mutation("gather_batch: a whole group of samples copies one sample fewer", "src/loops.h",
             "for (int k = 0; k < FBP_GATHER_ROWS; k++)", "for (int k = 0; k < FBP_GATHER_ROWS - 1; k++)",
             "tests/kernels/test_kernels.py::test_gather_batch"),
    mutation("shared gather: each chunk stops a feature short", "src/loops.h",
             "? D : d0 + FBP_GATHER_FEATURES;", "? D - 1 : d0 + FBP_GATHER_FEATURES - 1;",
             "tests/kernels/test_pool.py::test_the_shared_gather_is_the_references_on_any_thread_count"),
    mutation("packed GEMM: the widest path whatever the path argument says", "src/gemm.h",
             "FBP_PICK(fbp_gemm_##PREC, path)(C, ldc,", "FBP_PICK(fbp_gemm_##PREC, fastbp_best_path())(C, ldc,",
             "tests/kernels/test_gemm.py::test_gemm_follows_the_documented_order_exactly",
             "tests/kernels/test_gemm.py::test_the_path_fastbp_kernels_forces_reaches_the_packed_products"),
    mutation("packed weight gradient: each block overwrites instead of adding", "src/gemm.pxd",
             "gemm(path, dW, K, inp, ld_inp, 1, delta, 1, n, J, K, n, accumulate, NULL, NULL, 0, pack, threads,",
             "gemm(path, dW, K, inp, ld_inp, 1, delta, 1, n, J, K, n, False, NULL, NULL, 0, pack, threads,",
             "tests/kernels/test_gemm.py::test_the_packed_layer_kernels_match_their_reference_twins",
             "tests/kernels/test_gemm.py::test_a_wide_network_pass_agrees_with_the_reference"),
    mutation("packed layers also given the tiles' partial sums", "src/gemm.pxd",
             "    return use_tiles(J, K) and not packs_weight_gradient(J, K)", "    return use_tiles(J, K)",
             "tests/kernels/test_gemm.py::test_the_packed_products_workspace_holds_a_packing_buffer_and_partial_sums_only_for_tiled_layers"),
    mutation("the OpenMP threads spin while they wait", "fastbp/_backend.py",
             'os.environ["OMP_WAIT_POLICY"] = _USER_WAIT_POLICY or "PASSIVE"',
             'os.environ["OMP_WAIT_POLICY"] = _USER_WAIT_POLICY or "ACTIVE"',
             "tests/kernels/test_gemm.py::test_the_openmp_threads_wait_passively_unless_the_user_set_a_policy"),
    mutation("packed GEMM: a narrow last panel one vector short", "src/gemm_kernels.h",
             "FBP_FN(fbp_gemm_tile)(c, ldc, a, a_r, a_k, b, kc, first, bias, tanh_out, ld_tanh, act, 2);",
             "FBP_FN(fbp_gemm_tile)(c, ldc, a, a_r, a_k, b, kc, first, bias, tanh_out, ld_tanh, act, 1);",
             "tests/kernels/test_gemm.py::test_gemm_matches_numpy"),
    mutation("a layer whose weight gradient alone is packed takes the tiles' partial sums, never folded",
             "src/network_blocks.pxi",
             """        if packs_weight_gradient(J, K):
            # the slab's only block""", """        if use_packed(J, K):
            # the slab's only block""",
             "tests/kernels/test_gemm.py::test_a_wide_network_pass_agrees_with_the_reference"),
    # (use_packed's rule written out: _mlp.pyx does not cimport use_packed)
    mutation("an MLP layer whose weight gradient alone is packed takes the tiles' partial sums, never folded",
             "src/mlp_blocks.pxi",
             """        if packs_weight_gradient(J, K):
            # dW and db into grads""", """        if J >= 64 and K >= 64:
            # dW and db into grads""",
             "tests/kernels/test_mlp_kernels.py::test_a_packed_layers_gradient_is_the_references"),
    mutation("the estimators' minibatches gathered from the first rows, not in the shuffled order", "src/_mlp.pyx",
             "gather_rows(ws.path, X_batch, ws.ld_batch, X, order + start, B, D, ws.num_threads)",
             "gather_rows(ws.path, X_batch, ws.ld_batch, X, NULL, B, D, ws.num_threads)",
             "tests/api/test_estimator_mlp.py::test_classifier_fit_is_mlp_classifiers"),
    mutation("a gather of the first rows (no sample indices) reads row 0 for all", "src/loops.h",
             "batch[i0 + k] : i0 + k) * D", "batch[i0 + k] : 0) * D",
             "tests/api/test_estimator_mlp.py::test_classifier_fit_is_mlp_classifiers"),
    mutation("packed weight gradient of the first layer: X's rows read a block apart", "src/network_blocks.pxi",
             "ld_X if l == 0 else n, n, J, K, pack, ws.num_threads,\n",
             "n, n, J, K, pack, ws.num_threads,\n",
             "tests/kernels/test_gemm.py::test_a_wide_network_pass_agrees_with_the_reference"),
    mutation("the passes read X's feature rows N apart, not feature_major's padded stride", PASSES,
             "network_forward_block(ws, thread, params, X + start, ld_X, n)\n",
             "network_forward_block(ws, thread, params, X + start, rows, n)\n",
             "tests/kernels/test_kernels.py::test_a_workspace_on_the_padded_feature_major_x_is_the_flat_ones_bits"),
    mutation("the loss reads X's feature rows N apart, not feature_major's padded stride", PASSES,
             "network_forward_block(ws, thread, params, X + start, ws.ld_X, n)\n        loss",
             "network_forward_block(ws, thread, params, X + start, rows, n)\n        loss",
             "tests/kernels/test_kernels.py::test_a_workspace_on_the_padded_feature_major_x_is_the_flat_ones_bits"),
    mutation("feature rows never padded past a whole cache line", LAYERS,
             "        stride += line\n", "        stride += 0\n",
             "tests/kernels/test_kernels.py::test_feature_rows_are_padded_to_whole_cache_lines_never_2_kib_apart"),
    mutation("a minibatch step reads X_batch's rows B apart, though gathered ld_batch apart", PASSES,
             "train_pass(ws, params, X_batch, ws.ld_batch,", "train_pass(ws, params, X_batch, B,",
             FUSED + "test_minibatch_passes_match_the_references_epochs"),
    mutation("gather_batch: the features written B apart, whatever ld", "src/loops.h",
             "job = {path, X_batch, ld, X_rows, batch, B, D};", "job = {path, X_batch, B, X_rows, batch, B, D};",
             "tests/kernels/test_pool.py::test_the_shared_gather_is_the_references_on_any_thread_count"),
    mutation("the estimators read a batch's X rows B apart, though gathered ld_batch apart", "src/_mlp.pyx",
             "batch_loss = batch_loss_and_gradient(ws, params, X_batch, ws.ld_batch,",
             "batch_loss = batch_loss_and_gradient(ws, params, X_batch, B,",
             "tests/api/test_estimator_mlp.py::test_classifier_fit_is_mlp_classifiers"),
    mutation("the estimators' sum of squares leaves out the weights past the last 8", "src/_mlp.pyx",
             "    for i in range(whole, n):\n", "    for i in range(whole, whole):\n",
             "tests/kernels/test_mlp_kernels.py::test_batch_gradient_is_the_references"),
    mutation("the estimators' sum of squares adds two of its 8 partial sums", "src/_mlp.pyx",
             "width = SQUARE_LANES // 2,", "width = 1,",
             "tests/kernels/test_mlp_kernels.py::test_batch_gradient_is_the_references"),
    mutation("a one-block batch's packed weight gradient adds onto the last batch's", "src/mlp_blocks.pxi",
             "not writes_weight_gradient(J, K, one_block),", "True,",
             "tests/kernels/test_mlp_kernels.py::test_a_packed_layers_gradient_is_the_references"),
    mutation("a batch of several blocks writes its packed weight gradients, block over block", "src/_mlp.pyx",
             "cdef bint one_block = rows <= block_rows", "cdef bint one_block = True",
             "tests/kernels/test_mlp_kernels.py::test_a_packed_layers_gradient_is_the_references"),
    mutation("the estimators' threads each pack their own copy of a shared product's operand", "src/_mlp.pyx",
             "self.dtype.itemsize, num_threads)", "self.dtype.itemsize, 1)",
             MLP_THREADS + "test_the_threads_share_one_packing_of_each_products_operand"),
    mutation("a full-batch epoch keeps the samples gathered though their order changed", "src/_mlp.pyx",
             "cdef bint gathered = self.held_order is not None and np.array_equal(self.held_order, order)",
             "cdef bint gathered = self.held_order is not None",
             MLP_THREADS + "test_a_full_batch_gathers_its_samples_once_for_epochs_in_the_same_order"),
    mutation("a tiled product's parts leave out the outputs past its last whole tile", "src/mlp_blocks.pxi",
             "part_start(part, parts, (outputs + tile - 1) // tile) * tile)",
             "part_start(part, parts, outputs // tile) * tile)",
             MLP_THREADS + "test_every_thread_count_gives_the_same_bits"),
    # ---- float32 (issue 9)
    mutation("float32 partial sums strided for float64", "src/_driver.pyx",
             "self.ws.lanes_per_weight = FBP_LANES_D if self.dtype == np.float64 else FBP_LANES_F",
             "self.ws.lanes_per_weight = FBP_LANES_D",
             F32 + "test_float32_partial_sums_carried_across_blocks_agree_with_the_reference"),
    mutation("float32 tanh: polynomial used beyond its fitted range", "src/vecmath.h",
             "#define FBP_TANHF_SMALL 0.55f", "#define FBP_TANHF_SMALL 0.9f",
             "tests/kernels/test_vecmath_float32.py::test_within_bound_of_float64_libm_on_a_million_points"),
    mutation("float32 initial weights drawn after rounding, not rounded draws", "fastbp/reference.py",
             'model["W%d" % l] = (rng.randn(J, K) / np.sqrt(J)).astype(dtype)',
             'model["W%d" % l] = rng.randn(J, K).astype(dtype) / np.float32(np.sqrt(J)).astype(dtype)',
             F32 + "test_float32_starts_from_the_lectures_float64_draws_rounded"),
    mutation("float32 reference computes the step in float64", "fastbp/reference.py",
             "    epsilon, reg_lambda = float(epsilon), float(reg_lambda)\n", "",
             F32 + "test_sgd_update_rounds_the_step_sizes_to_the_arrays_dtype"),
    mutation("four-column sweep adds a column twice", LOOPS,
             "out[i] = (((out[i] + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3;",
             "out[i] = (((out[i] + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c2[i] * w3;",
             "tests/kernels/test_kernels.py::test_dense_forward"),
    mutation("partial sums: the remainder dropped", LOOPS,
             "        lanes[i - tail] = lanes[i - tail] + a[i] * b[i];\n",
             "        lanes[i - tail] = lanes[i - tail] + 0;\n",
             "tests/kernels/test_kernels.py::test_dense_backward"),
    mutation("tanh: a polynomial coefficient off in its 13th digit", "src/vecmath.h",
             "ps = fbp_madd(ps, s, -0.3333333333333333, fused);", "ps = fbp_madd(ps, s, -0.3333333333333, fused);",
             "tests/kernels/test_vecmath.py"),
    mutation("exp: the low part of ln 2 dropped", "src/vecmath.h",
             "double c = kd * FBP_LN2_LO;", "double c = 0.0;",
             "tests/kernels/test_vecmath.py"),
    # ---- the reference, guarded by central differences
    mutation("reference: tanh derivative 1 - a", "fastbp/reference.py",
             "return dout * (1 - np.power(a, 2))", "return dout * (1 - a)",
             "tests/api/test_training.py::test_reference_gradients_against_central_differences"),
    # ---- learning-rate schedules
    mutation("step decay: ceil instead of floor", "fastbp/schedules.py",
             "np.floor(np.arange(num_steps) / self.every)", "np.ceil(np.arange(num_steps) / self.every)", SCHEDULES),
    mutation("exponential decay starts at step 1", "fastbp/schedules.py",
             "np.exp(-self.decay * np.arange(num_steps))", "np.exp(-self.decay * np.arange(1, num_steps + 1))",
             SCHEDULES),
    mutation("inverse scaling starts at step 1", "fastbp/schedules.py",
             "epsilon / (1.0 + self.decay * np.arange(num_steps))",
             "epsilon / (1.0 + self.decay * np.arange(1, num_steps + 1))", SCHEDULES),
    # ---- robustness (issue 11)
    mutation("divergence check removed", "fastbp/_slices.py",
             "            if not self._finite(first, chunk):\n", "            if False:\n",
             ROBUST + "test_divergence_raises_naming_the_first_non_finite_pass"),
    mutation("divergence replay reports the pass after", "fastbp/_slices.py",
             "            raise Diverged(first + i, what)", "            raise Diverged(first + i + 1, what)",
             ROBUST + "test_divergence_raises_naming_the_first_non_finite_pass"),
    mutation("divergence warning keeps the diverged parameters", "fastbp/_slices.py",
             "            self.network.restore(before)\n            raise Diverged", "            raise Diverged",
             ROBUST + "test_divergence_can_warn_and_return_the_last_finite_model"),
    mutation("float labels refused again", "fastbp/_validation.py",
             'if array.dtype.kind not in "iuf":\n        raise TypeError("%s must hold integer class labels',
             'if array.dtype.kind not in "iu":\n        raise TypeError("%s must hold integer class labels',
             ROBUST + "test_integer_valued_float_labels_train_as_integers"),
    mutation("memory check skipped", "fastbp/_validation.py",
             "    if available is not None and num_bytes > available:", "    if False:",
             ROBUST + "test_the_memory_check_compares_with_the_memory_available"),
    # ---- parameters and tolerances a test must see
    mutation("moons ignore their seed", "fastbp/datasets.py",
             "random_state=np.random.RandomState(seed))", "random_state=np.random.RandomState(0))",
             DATASETS + "test_make_moons_seed_and_noise_change_the_points"),
    mutation("spiral ignores its noise", "fastbp/datasets.py",
             "4.0 * radius + noise * rng.standard_normal", "4.0 * radius + 0.2 * rng.standard_normal",
             DATASETS + "test_make_spiral_noise_is_the_angles_standard_deviation"),
    mutation("classify_run's rounding allowance 100 times too loose", "fastbp/diagnostics.py",
             "LOSS_ROUNDING_RTOL = 1e-12", "LOSS_ROUNDING_RTOL = 1e-10",
             "tests/api/test_diagnostics.py::test_classify_runs_rounding_allowance_is_tight"),
    mutation("classify_run's phase drift allowance doubled", "fastbp/diagnostics.py",
             "PHASE_DRIFT_OF_GAP = 0.1", "PHASE_DRIFT_OF_GAP = 0.2",
             "tests/api/test_diagnostics.py::test_classify_runs_phase_drift_allowance_is_where_it_says"),
    mutation("checker: reference tolerance 100 times too loose", "fastbp/exercise/problems.py",
             "REFERENCE_RTOL = 1e-9", "REFERENCE_RTOL = 1e-7",
             "tests/api/test_checker.py::test_a_gradient_just_outside_the_reference_tolerance_is_wrong"),
    Mutation("checker accepts gradients 1% off",
             (("fastbp/exercise/problems.py", "REFERENCE_RTOL = 1e-9", "REFERENCE_RTOL = 2e-2"),
              ("fastbp/exercise/problems.py", "FD_RTOL = 1e-6", "FD_RTOL = 2e-2")),
             ("tests/api/test_checker.py::test_a_gradient_one_percent_off_is_wrong",)),
    mutation("checker: central-difference tolerance 100 times too loose", "fastbp/exercise/problems.py",
             "FD_RTOL = 1e-6", "FD_RTOL = 1e-4",
             "tests/api/test_checker.py::test_a_reference_just_outside_the_central_difference_tolerance_stops_the_check"),
    # ---- the apps: pass numbering, files, hints, tables
    mutation("animation: frame i shows the state after i passes, not after pass i", "fastbp/animate.py",
             "num_passes=pass_index + 1, **common", "num_passes=max(pass_index, 1), **common",
             "tests/apps/test_animate.py::test_frames_are_states_of_the_run"),
    mutation("animation: --out's folder not created", "fastbp/animate.py",
             "        os.makedirs(directory, exist_ok=True)\n", "        os.listdir(directory)\n",
             "tests/apps/test_animate.py::test_out_creates_its_folder_and_seed_changes_the_data"),
    mutation("log loss axes labelled at powers of ten only", "fastbp/plot.py",
             "LogLocator(subs=LOSS_TICK_MULTIPLES)", "LogLocator()",
             "tests/apps/test_animate.py::test_the_log_axes_carry_readable_tick_labels"),
    mutation("divergence hint's rounding without its slack", "fastbp/diagnostics.py",
             "value / 10.0 ** exponent * (1 + ROUND_DOWN_SLACK)", "value / 10.0 ** exponent",
             "tests/api/test_diagnostics.py::test_the_hints_rounding_keeps_a_value_on_a_digit_and_only_that"),
    mutation("divergence hint back to epsilon / 10", "fastbp/diagnostics.py",
             "return suggested if suggested < epsilon else _round_down(epsilon / 2)", "return epsilon / 10",
             "tests/api/test_diagnostics.py::test_following_the_divergence_hint_trains"),
    mutation("sharpness: sigmoid's second derivative wrong", "fastbp/diagnostics.py",
             "    return 1 - 2 * a\n", "    return 1 - a\n",
             "tests/apps/test_playground_sharpness.py::test_the_sharpness_is_the_largest_eigenvalue_of_the_finite_difference_hessian"),
    mutation("sharpness: ReLU given tanh's second derivative", "fastbp/diagnostics.py",
             "    return np.zeros_like(a)\n", "    return -2 * a\n",
             "tests/apps/test_playground_sharpness.py::test_the_sharpness_is_the_largest_eigenvalue_of_the_finite_difference_hessian"),
    mutation("playground: the student's minibatches not the page's", "fastbp/playground_app/student.py",
             "(settings.seed + chunk.first) % (MAX_SEED + 1)", "settings.seed",
             "tests/apps/test_playground_student.py::"
             "test_a_correct_function_follows_the_page_on_a_wider_network_with_minibatches_and_changes"),
    mutation("playground: the student's run stops being behind before its view shows the last passes",
             "fastbp/playground_app/student.py",
             "(bool(self._chunks) or self.passes != self._shown_passes)", "bool(self._chunks)",
             "tests/apps/test_playground_session.py::"
             "test_a_students_run_is_behind_until_its_view_shows_the_passes_trained"),
    mutation("sweep classifies runs too short to show their end", "fastbp/diagnostics.py",
             "if num_passes < MIN_CLASSIFIED_PASSES:", "if num_passes < MIN_LOSSES:",
             "tests/apps/test_sweep.py::test_the_default_run_is_long_enough_for_the_lectures_run_class"),
    mutation("sweep table's header not the CSV's", "fastbp/sweeps.py",
             "cells = [list(COLUMNS)]",
             'cells = [["hidden", "epsilon", "seed", "activation", "final_loss", "train_acc", "test_acc", '
             '"run_class", "seconds"]]',
             "tests/apps/test_sweep.py::test_command_writes_the_csv_and_heat_map"),
    mutation("fastbp --version missing", "fastbp/cli.py",
             '    parser.add_argument("--version", action="version", version="fastbp " + __version__)\n', "",
             "tests/api/test_package.py::test_fastbp_version_prints_the_packages_version"),
    # ---- the scikit-learn MLP estimators
    mutation("MLP epochs shuffled by a generator of their own", "fastbp/estimators/_solvers.py",
             "_shuffled(sample_index, estimator._random_state)", "_shuffled(sample_index, np.random.RandomState(0))",
             "tests/api/test_estimator_mlp.py::test_classifier_fit_is_mlp_classifiers"),
    mutation("reference Nesterov step without the look-ahead", "fastbp/reference_mlp.py",
             "            param += momentum * velocity - learning_rate * grad\n", "            param += velocity\n",
             "tests/kernels/test_mlp_kernels.py::test_the_reference_path_is_scikit_learns_bit_for_bit"),
    mutation("compiled Adam's second moment decays by beta_1", "src/adam.h",
             "MUL(SET1(1.0 - beta_2), SQUARE(grads + i))", "MUL(SET1(1.0 - beta_1), SQUARE(grads + i))",
             "tests/kernels/test_mlp_kernels.py::test_adams_update_is_its_replay_in_double_exactly"),
    mutation("compiled output delta ignores the sample weights", "src/mlp_blocks.pxi",
             "top[c * n + i] = (a - y) * weights[i] if weights != NULL else a - y", "top[c * n + i] = a - y",
             "tests/kernels/test_mlp_kernels.py::test_batch_gradient_is_the_references"),
    mutation("a failed MLP fit keeps its half-trained state", "fastbp/estimators/_base.py",
             "            vars(self).clear()\n            vars(self).update(before)\n", "",
             "tests/api/test_estimator_mlp.py::test_a_failed_fit_leaves_the_estimator_unfitted"),
    # ---- model files of the MLP estimators
    mutation("model file of an MLP drops the optimiser's state", "fastbp/estimators/_state.py",
             'state["optimizer"] = _optimizer_state(getattr(estimator, "_optimizer", None), arrays)',
             'state["optimizer"] = None',
             ESTIMATOR_FILES + "test_a_loaded_estimator_is_the_one_saved_and_trains_on_to_the_same_bits"),
    mutation("model file of an MLP restarts Adam's step count", "fastbp/estimators/_state.py",
             '        optimizer.t = _typed("n_iter_", saved["t"])\n', "",
             ESTIMATOR_FILES + "test_a_loaded_estimator_is_the_one_saved_and_trains_on_to_the_same_bits"),
    mutation("model file of an MLP forgets the adaptive learning rate", "fastbp/estimators/_state.py",
             '    optimizer.learning_rate = float(saved["learning_rate"])\n', "",
             ESTIMATOR_FILES + "test_a_loaded_estimator_is_the_one_saved_and_trains_on_to_the_same_bits"),
    mutation("model file of an MLP reseeds a RandomState", "fastbp/estimators/_state.py",
             "    generator.set_state(", "    (lambda state: None)(",
             ESTIMATOR_FILES + "test_a_loaded_estimator_is_the_one_saved_and_trains_on_to_the_same_bits"),
    Mutation("model file of an MLP loads float32 weights as float64",
             (("fastbp/estimators/_state.py", 'arrays, "coef_%d" % l, "f", 2)', 'arrays, "coef_%d" % l, "f", 2)'
               '.astype(np.float64)'),
              ("fastbp/estimators/_state.py", 'arrays, "intercept_%d" % l, "f", 1)',
               'arrays, "intercept_%d" % l, "f", 1).astype(np.float64)'),
              ("fastbp/estimators/_state.py", '        setattr(optimizer, name, buffer.copy())',
               '        setattr(optimizer, name, buffer.astype(np.float64))'),
              ("fastbp/estimators/_state.py", "buffer.shape != zeros.shape or buffer.dtype != zeros.dtype",
               "buffer.shape != zeros.shape")),
             (ESTIMATOR_FILES + "test_a_loaded_estimator_is_the_one_saved_and_trains_on_to_the_same_bits",)),
    # ---- the MLP estimators' threads
    mutation("a shared MLP forward product adds the first biases to every part", "src/mlp_blocks.pxi",
             "W + k0, K, 1, b + k0, NULL", "W + k0, K, 1, b, NULL",
             MLP_THREADS + "test_every_thread_count_gives_the_same_bits"),
    mutation("a shared MLP weight gradient reads the first rows of the layer below", "src/mlp_blocks.pxi",
             "below + j0 * ld_below, ld_below, delta, n,", "below, ld_below, delta, n,",
             MLP_THREADS + "test_every_thread_count_gives_the_same_bits"),
    mutation("the MLP workspace's threads ignore threadpoolctl", "fastbp/estimators/_compiled.py",
             "batch_size, _mlp.max_threads())", "batch_size, 2)",
             MLP_THREADS + "test_threadpoolctl_limits_the_workspaces_threads"),
    mutation("an MLP's packed hidden layer skips its activation", "src/mlp_blocks.pxi",
             "if l < ws.num_layers - 1 and ws.hidden != IDENTITY_HIDDEN and fused == FBP_GEMM_NO_ACTIVATION:",
             "if False:",
             "tests/kernels/test_mlp_kernels.py::test_a_packed_layers_gradient_is_the_references"),
    mutation("an MLP's packed tanh or logistic layer: the product not told to apply it", "src/mlp_blocks.pxi",
             "ws.pack_shared_elements, fused)", "ws.pack_shared_elements, FBP_GEMM_NO_ACTIVATION)",
             "tests/kernels/test_mlp_kernels.py::test_a_packed_layers_gradient_is_the_references"),
    mutation("an MLP's packed tanh layer passes the delta back without tanh's derivative", "src/mlp_blocks.pxi",
             "dense_tanh_backward_input_packed(ws.path, delta_below, delta, params + ws.weight_offsets[l], below, n,",
             "dense_tanh_backward_input_packed(ws.path, delta_below, delta, params + ws.weight_offsets[l], NULL, n,",
             "tests/kernels/test_mlp_kernels.py::test_a_packed_layers_gradient_is_the_references"),
    mutation("an MLP's one-part update leaves the last parameter", "src/_mlp.pyx",
             "update_part(ws.path, params, grads, state_a, state_b, P, adam,",
             "update_part(ws.path, params, grads, state_a, state_b, P - 1, adam,",
             "tests/kernels/test_mlp_kernels.py::test_a_compiled_epoch_is_the_references"),
    mutation("float64 lanes folded in adjacent pairs", "src/tiled_products.h",
             "s4[l] = x[l] + x[l + 4];", "s4[l] = x[2 * l] + x[2 * l + 1];",
             "tests/kernels/test_products.py::test_correlate_follows_the_documented_order_exactly"),
    mutation("float32 lanes folded in adjacent pairs", "src/tiled_products.h",
             "s8[l] = x[l] + x[l + 8];", "s8[l] = x[2 * l] + x[2 * l + 1];",
             "tests/kernels/test_products.py::test_float32_lanes_are_added_pairwise_in_the_documented_order"),
    mutation("AVX-512 float32 fold: outputs loaded in order, so the sums land transposed", "src/tiled_products.h",
             "x + (4 * (s0 % 4) + s0 / 4) * FBP_LANES_F);", "x + s0 * FBP_LANES_F);",
             "tests/kernels/test_products.py::test_float32_lanes_are_added_pairwise_in_the_documented_order"),
    mutation("AVX-512 float64 fold: the last stage adds one half twice", "src/tiled_products.h",
             "_mm512_add_pd(_mm512_unpacklo_pd(t[0], t[1]), _mm512_unpackhi_pd(t[0], t[1]))",
             "_mm512_add_pd(_mm512_unpacklo_pd(t[0], t[1]), _mm512_unpacklo_pd(t[0], t[1]))",
             "tests/kernels/test_products.py::test_correlate_follows_the_documented_order_exactly"),
    mutation("AVX2 float32 fold: the first stage adds lanes 0-7 to themselves", "src/tiled_products.h",
             "_mm256_add_ps(_mm256_loadu_ps(xs), _mm256_loadu_ps(xs + 8))",
             "_mm256_add_ps(_mm256_loadu_ps(xs), _mm256_loadu_ps(xs))",
             "tests/kernels/test_products.py::test_float32_lanes_are_added_pairwise_in_the_documented_order"),
    mutation("AVX2 float64 fold: a group's sums overwrite the gradient instead of adding to it",
             "src/tiled_products.h",
             "_mm256_storeu_pd(grad + o, _mm256_add_pd(_mm256_loadu_pd(grad + o), sum));",
             "_mm256_storeu_pd(grad + o, sum);",
             "tests/kernels/test_products.py::test_correlate_follows_the_documented_order_exactly"),
    mutation("correlate told to start from zero reads its partial sums anyway", "src/tiled_products_kernels.h",
             "acc[a][b][g] = from_zero ? VZERO : VLOAD(", "acc[a][b][g] = VLOAD(",
             "tests/kernels/test_products.py::test_correlate_follows_the_documented_order_exactly"),
    mutation("a minibatch step's folded chunks add onto the previous chunk's partial sums", LAYERS,
             "correlate_features(path, lanes, inp + j0 * ld_inp, ld_inp, delta, n, rows, K, True)",
             "correlate_features(path, lanes, inp + j0 * ld_inp, ld_inp, delta, n, rows, K, False)",
             "tests/kernels/test_fused.py::test_minibatch_passes_match_the_references_epochs"),
    mutation("a one-block slab's packed weight gradient adds onto the previous step's", "src/network_blocks.pxi",
             "not writes_weight_gradient(J, K, one_block), <real *> ws.pack_shared,",
             "True, <real *> ws.pack_shared,",
             "tests/kernels/test_gemm.py::test_a_wide_network_pass_agrees_with_the_reference"),
    mutation("a one-block slab leaves the other layers' weight gradients unzeroed", PASSES,
             "        if not writes_weight_gradient(ws.sizes[l], ws.sizes[l + 1], one_block):\n",
             "        if not one_block:\n",
             "tests/kernels/test_fused.py::test_minibatch_passes_match_the_references_epochs"),
    mutation("every pass takes a second thread, whatever its work", WORKSPACE,
             "    return num_threads if rows >= parallel_rows_for(sizes) else 1",
             "    return num_threads",
             "tests/kernels/test_kernels.py::test_a_second_thread_only_where_a_pass_has_the_work_for_it"),
    mutation("shared B: every panel of p read from the first", "src/gemm_kernels.h",
             "packed_b = packed_b_all + FBP_FN(fbp_gemm_b_offset)(P, N, jc, pc);",
             "packed_b = packed_b_all + FBP_FN(fbp_gemm_b_offset)(P, N, jc, 0);",
             "tests/kernels/test_gemm.py::test_sharing_the_rows_between_threads_changes_no_bit"),
    mutation("shared B: a column panel's offset ignores the panels before it", "src/gemm_kernels.h",
             "    return jc * P + pc * ((nc + NR - 1) / NR * NR);", "    return pc * ((nc + NR - 1) / NR * NR);",
             "tests/kernels/test_gemm.py::test_sharing_the_rows_between_threads_changes_no_bit"),
    mutation("shared B: no room for a step's operands", WORKSPACE,
             "    return largest\n", "    return 0\n",
             "tests/kernels/test_gemm.py::"
             "test_a_one_block_step_on_two_threads_holds_room_for_its_largest_shared_operand"),
    mutation("packed GEMM: shared chunks start at multiples of the smallest chunk", "src/gemm.h",
             "ptrdiff_t m0 = chunk * j->chunk_rows;", "ptrdiff_t m0 = chunk * FBP_GEMM_CHUNK_MIN_ROWS;",
             "tests/kernels/test_gemm.py::test_sharing_the_rows_between_threads_changes_no_bit"),
    # ---- one dispatch mechanism, the workspace's byte count, the thread default
    mutation("a forced path ignored: every workspace takes the widest path", "src/paths.pxi",
             "    if path is None:\n        return fastbp_best_path() if not",
             "    if True:\n        return fastbp_best_path() if True or not",
             DISPATCH + "test_forcing_a_path_runs_it"),
    mutation("every dispatch runs the AVX-512 copy, whatever the path", "src/dispatch.h",
             "(PATH) == FASTBP_PATH_AVX2 ? FUNC##_avx2 : FUNC##_baseline)",
             "(PATH) == FASTBP_PATH_AVX2 ? FUNC##_avx2 : FUNC##_avx512)",
             DISPATCH + "test_whole_stable_runs_on_the_no_fma_path_agree_within_the_stated_tolerance"),
    mutation("the byte count leaves out the alignment slack", "src/workspace.pxi",
             "    spare = CACHE_LINE // np.dtype(dtype).itemsize if name in ALIGNED_BUFFERS else 0\n",
             "    spare = 0\n", DISPATCH + "test_the_workspace_byte_count_is_what_it_allocates"),
    mutation("the memory guard leaves out the driver's workspace", "fastbp/trainer.py",
             "+ _backend.workspace_bytes(sizes, N, batch_size, itemsize, num_threads))", "+ 0)",
             DISPATCH + "test_the_memory_guard_asks_the_driver_for_its_byte_count"),
    mutation("the thread default ignores OpenMP's setting", "fastbp/_backend.py",
             "    return _driver.max_threads()", "    return os.cpu_count()",
             DISPATCH + "test_the_thread_default_follows_omp_num_threads_and_threadpoolctl"),
    mutation("MSVC loses /fp:precise: its multiply-adds may fuse", "build_support.py",
             '"-ffp-contract=off": "/fp:precise"', '"-ffp-contract=off": "/O2"',
             "tests/api/test_build_support.py::test_each_compiler_gets_its_own_spelling_of_each_flag"),
    mutation("a compiler without OpenMP is given -fopenmp anyway", "build_support.py",
             "        if not try_to_build(self.compiler, OPENMP_PROBE,",
             "        if False and not try_to_build(self.compiler, OPENMP_PROBE,",
             "tests/api/test_build_support.py::test_a_compiler_without_openmp_builds_serially_with_a_one_line_notice"),
    mutation("fastbp check --template overwrites an existing file", "fastbp/exercise/student_file.py",
             'with open(path, "x") as file:', 'with open(path, "w") as file:',
             "tests/apps/test_check_command.py::test_the_template_never_overwrites_a_file"),
    # ---- the playground's curve axes
    mutation("playground axis end rounded down", FIGURES,
             "return next(step * power for step in ROUND_STEPS + (10.0,) if step * power >= value)",
             "return max(step * power for step in ROUND_STEPS if step * power <= value)",
             PLAYGROUND_FIGURES + "test_round_up_rounds_up_to_the_nearest_step_never_down"),
    mutation("playground log axis: infinite values not left out", FIGURES,
             "values = values[np.isfinite(values) & (values > 0)]", "values = values[~np.isnan(values) & (values > 0)]",
             PLAYGROUND_FIGURES + "test_curve_ranges_follow_the_documented_rule"),
    mutation("playground log axis: under a decade for one value", FIGURES,
             "_decade(max(high, low + 1))", "_decade(high)",
             PLAYGROUND_FIGURES + "test_curve_ranges_follow_the_documented_rule"),
    mutation("playground log axis: no clamp to the doubles", FIGURES,
             "np.clip(np.power(10.0, exponent), FLOAT64.smallest_subnormal, FLOAT64.max)", "np.power(10.0, exponent)",
             PLAYGROUND_FIGURES + "test_curve_ranges_follow_the_documented_rule"),
)

DEBUG_BUILD = "debug build: kernel tests pass with bounds checks on"
DEBUG_BUILD_TESTS = ("tests/kernels/test_kernels.py", "tests/kernels/test_fused.py")
# Reads X[5] of a 4-element X (sample 5 of 2 samples with D = 2): the debug
# build's AddressSanitizer must stop it with a heap-buffer-overflow report; a
# release build reads past the end unnoticed.
BOUNDS_CHECK_PROBE = """
import numpy as np
from fastbp import _layers
_layers.gather_batch(np.empty(2), np.empty(1, dtype=np.intp), np.zeros(4), np.zeros(2, dtype=np.intp),
                     np.array([5], dtype=np.intp), 2)
"""


def occurrences(mutation_entry):
    """-> [(file, number of times its old text occurs)] for every edit."""
    counts = []
    for file, old, _ in mutation_entry.edits:
        path = os.path.join(REPO, file)
        counts.append((file, open(path).read().count(old) if os.path.exists(path) else 0))
    return counts


def missing_tests(tests):
    """-> the pytest paths and node ids of ``tests`` that name no file, or no function
    or class in their file (a parametrised id's [...] is ignored)."""
    missing = []
    for test in tests:
        path, *names = test.split("::")
        path = os.path.join(REPO, path)
        if not os.path.exists(path):
            missing.append(test)
            continue
        text = open(path).read() if names else ""
        for name in (name.split("[")[0] for name in names):
            if not re.search(r"^\s*(?:def %s\(|class %s\b)" % (name, name), text, flags=re.MULTILINE):
                missing.append(test)
                break
    return missing


def is_stale(mutation_entry):
    return any(count != 1 for _, count in occurrences(mutation_entry)) or bool(missing_tests(mutation_entry.tests))


def files_of(mutation_entry):
    return ", ".join(dict.fromkeys(file for file, _, _ in mutation_entry.edits))


def built_kernels():
    return glob.glob(os.path.join(REPO, "fastbp", "*.so")) + glob.glob(os.path.join(REPO, "fastbp", "*.pyd"))


def copy_tree(destination):
    """The tracked files, and the built kernels with the C that Cython generated
    for them (untracked), modification times kept: a rebuild in the copy
    recompiles only the modules whose C it removes (build)."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    for file in filter(None, tracked.stdout.split("\0")):
        source = os.path.join(REPO, file)
        if os.path.isfile(source):
            os.makedirs(os.path.dirname(os.path.join(destination, file)), exist_ok=True)
            shutil.copy2(source, os.path.join(destination, file))
    for generated in glob.glob(os.path.join(REPO, "src", "*.c")):
        shutil.copy2(generated, os.path.join(destination, "src", os.path.basename(generated)))
    for kernel in built_kernels():
        shutil.copy2(kernel, os.path.join(destination, "fastbp", os.path.basename(kernel)))


def files_read(source, root, seen=None):
    """source (a path under src/) and every src/ file it reads: Cython's
    include and cimport, cdef extern from, and C's #include "...", followed
    recursively. A dependency this misses shows as a SURVIVED mutation, never
    as a false kill."""
    seen = set() if seen is None else seen
    if source in seen or not os.path.isfile(os.path.join(root, source)):
        return seen
    seen.add(source)
    text = open(os.path.join(root, source)).read()
    names = re.findall(r'^\s*include\s+"([^"]+)"', text, re.M)
    names += [module + ".pxd" for module in re.findall(r"^\s*from\s+(\w+)\s+cimport", text, re.M)]
    names += [module + ".pxd" for module in re.findall(r"^\s*cimport\s+(\w+)", text, re.M)]
    names += re.findall(r'cdef\s+extern\s+from\s+"([^"]+)"', text)
    names += re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, re.M)
    for name in names:
        files_read("src/" + name, root, seen)
    return seen


def modules_to_rebuild(cwd, edited):
    """-> the extension modules (names of their src/*.pyx) that read an edited file;
    every one when the build itself (setup.py, build_support.py) is edited."""
    modules = [os.path.basename(path)[:-4] for path in glob.glob(os.path.join(cwd, "src", "*.pyx"))]
    if any(not file.startswith("src/") for file in edited):
        return modules
    return [module for module in modules
            if files_read("src/%s.pyx" % module, cwd) & set(edited)]


def environment(debug=False):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
    for variable in ("FASTBP_DEBUG", "PYTHONPATH", "FASTBP_KERNELS", "LD_PRELOAD"):
        env.pop(variable, None)
    if debug:
        env["FASTBP_DEBUG"] = "1"
    return env


def sanitized(env):
    """The debug build is compiled with AddressSanitizer (setup.py), whose runtime
    must be loaded before Python: preload it, and leave leak reports to Python."""
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    return dict(env, LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=0")


def run(command, cwd, env, timeout=TIMEOUT_SECONDS):
    """-> (exit status, output); a timeout counts as a failure (status None)."""
    try:
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % timeout
    return result.returncode, result.stdout + result.stderr


def build(cwd, env, edited=None):
    """Rebuild the copy's kernels that read an edited file (all of them when
    edited is None): their built module and generated C are removed, so that
    Cython and the compiler redo them; the others keep their copied C and
    module, older than nothing they read, so setuptools leaves them alone."""
    modules = modules_to_rebuild(cwd, edited) if edited is not None else None
    for kernel in glob.glob(os.path.join(cwd, "fastbp", "*.so")) + glob.glob(os.path.join(cwd, "fastbp", "*.pyd")):
        module = os.path.basename(kernel).split(".")[0]
        if modules is None or module in modules:
            os.remove(kernel)
            generated = os.path.join(cwd, "src", module + ".c")
            if os.path.exists(generated):
                os.remove(generated)
    return run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd, env, BUILD_TIMEOUT_SECONDS)


def pytest(tests, cwd, env):
    return run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"] + list(tests), cwd, env)


def try_mutation(mutation_entry):
    """-> (result, seconds, detail): result is "killed", "SURVIVED" or "BUILD FAILED"."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fastbp-mutation-") as copy:
        copy_tree(copy)
        for file, old, new in mutation_entry.edits:
            path = os.path.join(copy, file)
            text = open(path).read()
            with open(path, "w") as edited:
                edited.write(text.replace(old, new, 1))
        env = environment()
        edited = [file for file, _, _ in mutation_entry.edits]
        if any(file.startswith(REBUILD_PREFIXES) for file in edited):
            status, output = build(copy, env, edited)
            if status != 0:
                return "BUILD FAILED", time.perf_counter() - start, output
        status, output = pytest(mutation_entry.tests, copy, env)
    return ("SURVIVED" if status == 0 else "killed"), time.perf_counter() - start, output


def try_debug_build():
    """-> (result, seconds, detail): "passed" when the debug build passes the kernel
    tests under AddressSanitizer and the sanitizer catches the probe's out-of-range read."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fastbp-debug-") as copy:
        copy_tree(copy)
        env = environment(debug=True)
        status, output = build(copy, env)
        if status != 0:
            return "BUILD FAILED", time.perf_counter() - start, output
        status, output = pytest(DEBUG_BUILD_TESTS, copy, sanitized(env))
        if status != 0:
            return "FAILED", time.perf_counter() - start, output
        _, probe_output = run([sys.executable, "-c", BOUNDS_CHECK_PROBE], copy, sanitized(env))
        if "heap-buffer-overflow" not in probe_output:
            return "NO BOUNDS CHECKS", time.perf_counter() - start, probe_output
    return "passed", time.perf_counter() - start, ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutations and their status, run nothing")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only the entries whose name contains NAME (repeatable; 'debug build' "
                             "selects the debug-build row)")
    parser.add_argument("--jobs", type=int, default=JOBS, help="mutations run at a time (default: %d)" % JOBS)
    args = parser.parse_args(argv)

    def selected(name):
        return not args.only or any(part in name for part in args.only)

    mutations = [entry for entry in MUTATIONS if selected(entry.name)]
    with_debug_build = selected(DEBUG_BUILD)
    if not mutations and not with_debug_build:
        parser.error("no entry matches %s; see --list" % args.only)

    if args.list:
        for entry in mutations:
            counts = ", ".join(["%s: %d" % pair for pair in occurrences(entry)]
                               + ["missing test: %s" % test for test in missing_tests(entry.tests)])
            print("%-52s %-5s %s\n%52s tests: %s" % (entry.name, "STALE" if is_stale(entry) else "ok", counts, "",
                                                     " ".join(entry.tests)))
        stale = [entry.name for entry in mutations if is_stale(entry)]
        if with_debug_build:
            missing = missing_tests(DEBUG_BUILD_TESTS)
            print("%-52s %-5s FASTBP_DEBUG=1 build%s\n%52s tests: %s" % (
                DEBUG_BUILD, "STALE" if missing else "ok", "".join(", missing test: " + test for test in missing), "",
                " ".join(DEBUG_BUILD_TESTS)))
            stale += [DEBUG_BUILD] if missing else []
        print("\n%d entries listed, %d stale" % (len(mutations) + with_debug_build, len(stale)))
        return 1 if stale else 0

    # the copies reuse this tree's kernels: bring them up to date first (a no-op when they are)
    status, output = run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], REPO, dict(os.environ))
    if status != 0:
        print("building the kernels in %s failed:\n%s" % (REPO, output), file=sys.stderr)
        return 1

    stale = [entry for entry in mutations if is_stale(entry)]
    runnable = [entry for entry in mutations if entry not in stale]
    jobs = [(entry.name, files_of(entry), lambda entry=entry: try_mutation(entry)) for entry in runnable]
    if with_debug_build:
        jobs.append((DEBUG_BUILD, "setup.py (FASTBP_DEBUG=1)", try_debug_build))
    # the slow ones (rebuilds) first, so that two run side by side as long as possible
    jobs.sort(key=lambda job: "src/" not in job[1] and "FASTBP_DEBUG" not in job[1])

    start = time.perf_counter()
    results = {}
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {name: pool.submit(job) for name, _, job in jobs}
        for name, _files, _ in jobs:
            results[name] = futures[name].result()
            print("  %s: %s" % (results[name][0], name), file=sys.stderr, flush=True)

    rows = [(entry.name, files_of(entry), "STALE", 0.0) for entry in stale]
    rows += [(name, files, results[name][0], results[name][1]) for name, files, _ in jobs]
    order = [entry.name for entry in MUTATIONS] + [DEBUG_BUILD]
    rows.sort(key=lambda row: order.index(row[0]))
    name_width = max(len(row[0]) for row in rows)
    file_width = max(len(row[1]) for row in rows)
    print("%-*s  %-*s  %-16s %7s" % (name_width, "mutation", file_width, "file", "result", "seconds"))
    for name, files, result, seconds in rows:
        print("%-*s  %-*s  %-16s %7.1f" % (name_width, name, file_width, files, result, seconds))

    bad = [row for row in rows if row[2] not in ("killed", "passed")]
    for name, _, result, _ in bad:
        if name in results and results[name][2]:
            print("\n---- %s: %s\n%s" % (result, name, results[name][2][-3000:]))
    killed = sum(row[2] == "killed" for row in rows)
    print("\n%d of %d mutations killed, %d stale%s; %.0f s" % (
        killed, len(mutations), len(stale),
        "; debug build %s" % results[DEBUG_BUILD][0] if with_debug_build else "", time.perf_counter() - start))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
