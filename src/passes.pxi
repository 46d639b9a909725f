# passes.pxi -- all rows of a data set through the network, in slabs of
# blocks (workspace.pxi's partition): defines network_gradient
# (reference.gradients' data term), network_loss (reference.calculate_loss),
# train_pass, train_epoch and run_passes (the fused training loop), and
# network_probabilities (reference.predict_proba). Slabs run on the
# workspace's threads; their sums are added in slab order, so the bits do not
# depend on the thread count.


cdef void slab_gradient(const workspace_t *ws, int thread, Py_ssize_t slab, real *grads,
                        const real *params,
                        const real *X,               # IN (rows,D)^T, feature rows ld_X apart
                        Py_ssize_t ld_X, const Py_ssize_t *y,
                        Py_ssize_t rows) noexcept nogil:
    # grads = the data term's gradient over the blocks of this slab, added in
    # block order; a tiled layer's weight gradient is carried in its partial
    # sums (lanes) through the blocks and added into grads at the end (a packed
    # layer's is added straight into grads, gemm.carries_lanes)
    cdef Py_ssize_t block, start, n, l, J, K
    cdef Py_ssize_t first = first_block(ws, slab, rows), end = first_block(ws, slab + 1, rows)
    # a slab of one block (every minibatch step) folds its partial sums as it
    # makes them (layers.dense_backward_folded): the same bits
    cdef bint one_block = end - first == 1
    # the biases, and every weight gradient that the blocks add to, start from
    # zero; a weight gradient the block writes is left alone (at a minibatch
    # step of 784-256-10 zeroing it was a pass over 1.6 MB, and adding to the
    # zeros a second one)
    memset(grads + ws.num_weights, 0, (ws.num_params - ws.num_weights) * sizeof(real))
    for l in range(ws.num_layers):
        if not writes_weight_gradient(ws.sizes[l], ws.sizes[l + 1], one_block):
            memset(grads + ws.weight_offsets[l], 0, ws.sizes[l] * ws.sizes[l + 1] * sizeof(real))
    for l in range(ws.num_layers):
        if carries_lanes(ws.sizes[l], ws.sizes[l + 1]) and not one_block:
            memset(thread_lanes(ws, thread, l), 0, ws.sizes[l] * ws.sizes[l + 1] * ws.lanes_per_weight * sizeof(real))
    for block in range(first, end):
        start = block * ws.block_rows
        n = rows_in_block(ws, block, rows)
        network_forward_block(ws, thread, params, X + start, ld_X, n)
        network_backward_block(ws, thread, grads, params, X + start, ld_X, y + start, n, one_block)
    for l in range(ws.num_layers):
        J = ws.sizes[l]
        K = ws.sizes[l + 1]
        if carries_lanes(J, K) and not one_block:
            fold_lanes(ws.path, grads + ws.weight_offsets[l], <real *> thread_lanes(ws, thread, l), J * K)


cdef real *network_gradient(const workspace_t *ws, const real *params,
                            const real *X,           # IN (rows,D)^T, feature rows ld_X apart
                            Py_ssize_t ld_X,
                            const Py_ssize_t *y,     # IN (rows,)
                            Py_ssize_t rows) noexcept nogil:
    # reference.backward(model, X, y, reference.forward(model, X)), flat: -> slab 0's buffer
    cdef Py_ssize_t S = num_slabs(ws, rows)
    cdef Py_ssize_t slab
    cdef real *grads = <real *> slab_grads(ws, 0)
    if in_parallel(ws, rows):
        for slab in prange(S, nogil=True, num_threads=ws.num_threads, schedule="dynamic"):
            slab_gradient(ws, threadid(), slab, <real *> slab_grads(ws, slab), params, X, ld_X, y, rows)
    else:
        for slab in range(S):
            slab_gradient(ws, 0, slab, <real *> slab_grads(ws, slab), params, X, ld_X, y, rows)
    # the slabs' sums into slab 0's, in slab order, a chunk of elements at a time
    # (on the threads too: a 1024-wide layer's sums are megabytes)
    add_slabs(ws.path, grads, ws.num_params, S, ws.num_params, ws.num_threads if in_parallel(ws, rows) else 1)
    return grads


cdef double slab_data_loss(const workspace_t *ws, int thread, Py_ssize_t slab, const real *params,
                           const real *X,    # IN (rows,D)^T, feature rows ws.ld_X apart
                           const Py_ssize_t *y, Py_ssize_t rows) noexcept nogil:
    # the summed cross-entropy of the blocks of this slab, added in block order
    cdef Py_ssize_t block, start, n, top = ws.num_layers - 1
    cdef double loss = 0.0
    for block in range(first_block(ws, slab, rows), first_block(ws, slab + 1, rows)):
        start = block * ws.block_rows
        n = rows_in_block(ws, block, rows)
        network_forward_block(ws, thread, params, X + start, ws.ld_X, n)
        loss = loss + cross_entropy_loss(ws.path, <real *> thread_outputs(ws, thread, top), y + start,
                                         <real *> thread_scratch(ws, thread), n, ws.sizes[ws.num_layers])
    return loss


cdef double network_loss(const workspace_t *ws, const real *params, double reg_lambda) noexcept nogil:
    # reference.calculate_loss on the whole training set: (sum of -log p[y] +
    # reg/2 * sum of |Wl|^2) / N, summed in double in both precisions (see
    # layers.cross_entropy_loss)
    cdef const real *X = <const real *> ws.X
    cdef Py_ssize_t rows = ws.N
    cdef Py_ssize_t S = num_slabs(ws, rows)
    cdef Py_ssize_t slab, i
    cdef double data_loss = 0.0, weight_norm = 0.0
    if in_parallel(ws, rows):
        for slab in prange(S, nogil=True, num_threads=ws.num_threads, schedule="dynamic"):
            ws.slab_losses[slab] = slab_data_loss(ws, threadid(), slab, params, X, ws.y, rows)
    else:
        for slab in range(S):
            ws.slab_losses[slab] = slab_data_loss(ws, 0, slab, params, X, ws.y, rows)
    for slab in range(S):
        data_loss = data_loss + ws.slab_losses[slab]
    for i in range(ws.num_weights):
        weight_norm = weight_norm + <double> params[i] * <double> params[i]
    data_loss = data_loss + reg_lambda / 2 * weight_norm
    return 1.0 / rows * data_loss


cdef void train_pass(const workspace_t *ws, real *params,
                     const real *X,                 # IN (rows,D)^T, feature rows ld_X apart
                     Py_ssize_t ld_X,
                     const Py_ssize_t *y,           # IN (rows,)
                     Py_ssize_t rows, double epsilon, double reg_lambda) noexcept nogil:
    # reference.train_pass: every gradient first, then every parameter moves.
    # The step sizes are rounded to real once, as NumPy rounds a Python float
    # that multiplies a float32 array.
    cdef real *grads = network_gradient(ws, params, X, ld_X, y, rows)
    cdef real step = <real> epsilon, weight_decay = <real> reg_lambda, no_decay = 0
    sgd_update(ws.path, params, grads, step, weight_decay, ws.num_weights, step_threads(ws, rows))
    sgd_update(ws.path, params + ws.num_weights, grads + ws.num_weights, step, no_decay,
               ws.num_params - ws.num_weights)


cdef void train_epoch(const workspace_t *ws, real *params,
                      const Py_ssize_t *order,        # IN (N,): this epoch's permutation
                      const double *epsilons,         # IN (steps,): one step size a batch
                      double reg_lambda) noexcept nogil:
    # reference.train_epoch: batch k of the shuffled order steps with epsilons[k];
    # reg_lambda * (B / N) keeps an epoch's weight decay that of one full pass
    cdef Py_ssize_t step, start, B, N = ws.N, D = ws.sizes[0]
    cdef Py_ssize_t num_steps = (N + ws.batch_size - 1) // ws.batch_size
    cdef real *X_batch = <real *> ws.X_batch
    for step in range(num_steps):
        start = step * ws.batch_size
        B = min(ws.batch_size, N - start)
        gather_batch(ws.path, X_batch, ws.ld_batch, ws.y_batch, <const real *> ws.X_rows, ws.y, order + start, B,
                     D, step_threads(ws, B))
        train_pass(ws, params, X_batch, ws.ld_batch, ws.y_batch, B, epsilons[step], reg_lambda * (<double> B / N))


cdef void run_passes(const workspace_t *ws, real *params,
                     const Py_ssize_t *orders,        # IN (num_passes, N); minibatches only
                     const double *epsilons, double reg_lambda,
                     Py_ssize_t first_pass, Py_ssize_t num_passes, Py_ssize_t loss_every,
                     double *losses) noexcept nogil:
    # Workspace.train_passes without the GIL: the fused loop
    cdef Py_ssize_t i, p, N = ws.N
    cdef Py_ssize_t steps_per_pass = (N + ws.batch_size - 1) // ws.batch_size
    for i in range(num_passes):
        if ws.batch_size == N:
            train_pass(ws, params, <const real *> ws.X, ws.ld_X, ws.y, N, epsilons[i], reg_lambda)
        else:
            train_epoch(ws, params, orders + i * N, epsilons + i * steps_per_pass, reg_lambda)
        p = first_pass + i
        if loss_every > 0 and p % loss_every == 0:
            losses[p // loss_every] = network_loss(ws, params, reg_lambda)


cdef void slab_probabilities(const workspace_t *ws, int thread, Py_ssize_t slab,
                             real *probs,               # OUT (rows,C)^T
                             const real *params,
                             const real *X,             # IN (rows,D)^T, feature rows ws.ld_X apart
                             Py_ssize_t rows) noexcept nogil:
    # reference.predict_proba on the blocks of this slab
    cdef Py_ssize_t block, start, n, c, C = ws.sizes[ws.num_layers]
    cdef real *top = <real *> thread_outputs(ws, thread, ws.num_layers - 1)
    for block in range(first_block(ws, slab, rows), first_block(ws, slab + 1, rows)):
        start = block * ws.block_rows
        n = rows_in_block(ws, block, rows)
        network_forward_block(ws, thread, params, X + start, ws.ld_X, n)
        softmax_forward(ws.path, top, top, <real *> thread_scratch(ws, thread), n, C)
        for c in range(C):
            memcpy(probs + c * rows + start, top + c * n, n * sizeof(real))


cdef void network_probabilities(const workspace_t *ws,
                                real *probs,             # OUT (N,C)^T
                                const real *params) noexcept nogil:
    # reference.predict_proba over all rows, in slabs
    cdef const real *X = <const real *> ws.X
    cdef Py_ssize_t rows = ws.N
    cdef Py_ssize_t S = num_slabs(ws, rows), slab
    if in_parallel(ws, rows):
        for slab in prange(S, nogil=True, num_threads=ws.num_threads, schedule="dynamic"):
            slab_probabilities(ws, threadid(), slab, probs, params, X, rows)
    else:
        for slab in range(S):
            slab_probabilities(ws, 0, slab, probs, params, X, rows)
