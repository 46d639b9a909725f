# mlp_blocks.pxi -- one block of at most BLOCK_ROWS rows through the MLP of
# _mlp.pyx: defines block_forward (reference_mlp.forward), block_loss_and_delta
# (the loss and the output layer's delta, sample weights included) and
# block_backward (reference_mlp.backward's products), the layer kernels of
# layers.pxd in the workspace's (MLP) buffers, on its dispatch path; a wide
# layer's products are shared between the threads in parts (num_parts,
# dense_forward_outputs, dense_backward_rows), or take the packed products of
# gemm.pxd, each output computed by one thread in one order: the same bits for
# every thread count.

cdef void block_forward(const MLP *ws, const real *params,
                        const real *X,         # IN (n,D)^T, feature rows ld_X apart
                        Py_ssize_t ld_X, Py_ssize_t n) noexcept nogil:
    # reference_mlp.forward without the output activation (block_loss_and_delta applies it)
    cdef Py_ssize_t l, J, K, part, parts, tile
    cdef int fused
    cdef const real *inp = X
    cdef Py_ssize_t ld_inp = ld_X
    cdef real *z
    for l in range(ws.num_layers):
        J = ws.sizes[l]
        K = ws.sizes[l + 1]
        z = layer_outputs(ws, <real *> ws.outputs, l)
        if packs_weights_on_block(J, K, n):
            # the tiles' bits (gemm.h), its rows shared by pool.h's threads; a
            # hidden layer's tanh or logistic applied by the product, tile by tile
            fused = FBP_GEMM_NO_ACTIVATION
            if l < ws.num_layers - 1 and ws.hidden != IDENTITY_HIDDEN:
                fused = fused_activation(<Activation> ws.hidden)
            dense_forward_packed(ws.path, z, inp, ld_inp, params + ws.weight_offsets[l], params + ws.bias_offsets[l],
                                 n, J, K, <real *> ws.pack, ws.num_threads, <real *> ws.pack_shared,
                                 ws.pack_shared_elements, fused)
            if l < ws.num_layers - 1 and ws.hidden != IDENTITY_HIDDEN and fused == FBP_GEMM_NO_ACTIVATION:
                activation_forward(ws.path, z, z, n * K, <Activation> ws.hidden)
            inp = z
            ld_inp = n
            continue
        tile = fastbp_combine_rows(ws.path)
        parts = min(num_parts(ws, n * J * K, K), (K + tile - 1) // tile) if use_tiles(J, K) else 1
        if parts == 1:
            dense_forward(ws.path, z, inp, ld_inp, params + ws.weight_offsets[l], params + ws.bias_offsets[l], n,
                          J, K)
            if l < ws.num_layers - 1 and ws.hidden != IDENTITY_HIDDEN:
                activation_forward(ws.path, z, z, n * K, <Activation> ws.hidden)
        else:
            for part in prange(parts, num_threads=ws.num_threads, schedule="dynamic"):
                dense_forward_outputs(ws, z, inp, ld_inp, params + ws.weight_offsets[l],
                                      params + ws.bias_offsets[l], n, J, K, tiles_start(part, parts, K, tile),
                                      tiles_start(part + 1, parts, K, tile), l < ws.num_layers - 1)
        inp = z
        ld_inp = n


cdef inline Py_ssize_t num_parts(const MLP *ws, Py_ssize_t work, Py_ssize_t outputs) noexcept nogil:
    # the parts a product of this many multiply-adds is split into: PARTS_PER_THREAD
    # per thread if it pays for threads, each of at least MIN_PART_OUTPUTS outputs
    if ws.num_threads <= 1 or work < MIN_SHARED_WORK:
        return 1
    return max(1, min(PARTS_PER_THREAD * <Py_ssize_t> ws.num_threads, outputs // MIN_PART_OUTPUTS))


cdef inline Py_ssize_t part_start(Py_ssize_t part, Py_ssize_t parts, Py_ssize_t outputs) noexcept nogil:
    # the first output of a part: parts as even as the outputs allow
    return part * outputs // parts


cdef inline Py_ssize_t tiles_start(Py_ssize_t part, Py_ssize_t parts, Py_ssize_t outputs,
                                   Py_ssize_t tile) noexcept nogil:
    # the first output of a part of a tiled product's outputs: parts of whole tiles
    # (tiled_products.fastbp_combine_rows outputs each), as even as the tiles allow,
    # so that only the last part ends in a narrower tile: each tile sweeps all the
    # inputs, and parts of 8 outputs on 6-output tiles swept them twice (8 sweeps for
    # 32 outputs instead of 6; 46% of a 1024-32-10 full-batch fit was that product)
    return min(outputs, part_start(part, parts, (outputs + tile - 1) // tile) * tile)


cdef void dense_forward_outputs(const MLP *ws,
                                real *z,                   # OUT (n,K)^T, rows k0..k1-1
                                const real *inp,           # IN  (n,J)^T, feature rows ld_inp apart
                                Py_ssize_t ld_inp,
                                const real *W,             # IN  (J,K)
                                const real *b,             # IN  (1,K)
                                Py_ssize_t n, Py_ssize_t J, Py_ssize_t K, Py_ssize_t k0, Py_ssize_t k1,
                                bint hidden) noexcept nogil:
    # z[:, k0:k1] = inp.dot(W[:, k0:k1]) + b[k0:k1], then the hidden activation
    # if hidden: outputs k0..k1-1 of a wide layer's dense_forward (its tiled
    # product), the same bits
    combine_features(ws.path, z + k0 * n, inp, ld_inp, W + k0, K, 1, b + k0, NULL, n, J, k1 - k0)
    if hidden and ws.hidden != IDENTITY_HIDDEN:
        activation_forward(ws.path, z + k0 * n, z + k0 * n, (k1 - k0) * n, <Activation> ws.hidden)


cdef inline double clipped_log(real p, real eps) noexcept nogil:
    # log(np.clip(p, eps, 1 - eps)), in double
    cdef real one = 1
    if p < eps:
        p = eps
    elif p > one - eps:
        p = one - eps
    return log(<double> p)


cdef double block_loss_and_delta(const MLP *ws,
                                 const real *Y,        # IN (n,C)^T, rows ld_Y apart
                                 Py_ssize_t ld_Y,
                                 const real *weights,  # IN (n,), or NULL: all 1
                                 Py_ssize_t n) noexcept nogil:
    # The output activation on the top layer, the weighted sum of the samples'
    # losses (returned, in double), and delta = (a - y) * weight in place of a.
    cdef Py_ssize_t i, c, C = ws.sizes[ws.num_layers]
    cdef real *top = layer_outputs(ws, <real *> ws.outputs, ws.num_layers - 1)
    cdef real a, y, eps = DBL_EPSILON if real is double else FLT_EPSILON
    cdef double sample_loss, loss = 0.0
    if ws.output == SOFTMAX:
        softmax_forward(ws.path, top, top, <real *> ws.scratch, n, C)
    elif ws.output == LOGISTIC:
        vector_sigmoid(ws.path, top, top, n * C)
    elif ws.output == EXP:
        vector_exp(ws.path, top, top, n * C)
    for i in range(n):
        sample_loss = 0.0
        for c in range(C):
            a = top[c * n + i]
            y = Y[c * ld_Y + i]
            if ws.output == SOFTMAX:
                # -xlogy(y, p)
                if y != 0:
                    sample_loss = sample_loss - <double> y * clipped_log(a, eps)
            elif ws.output == LOGISTIC:
                # -(xlogy(y, p) + xlogy(1 - y, 1 - p))
                if y != 0:
                    sample_loss = sample_loss - <double> y * clipped_log(a, eps)
                if y != 1:
                    sample_loss = sample_loss - (1.0 - <double> y) * clipped_log(1 - a, eps)
            elif ws.output == IDENTITY:
                # (y - p)**2 / 2, averaged over the outputs
                sample_loss = sample_loss + 0.5 * (<double> y - a) * (<double> y - a) / C
            else:
                # xlogy(y, y / p) - y + p
                if y != 0:
                    sample_loss = sample_loss + <double> y * log(<double> y / a)
                sample_loss = sample_loss - y + a
            top[c * n + i] = (a - y) * weights[i] if weights != NULL else a - y
        loss = loss + (sample_loss * weights[i] if weights != NULL else sample_loss)
    return loss


cdef void block_backward(const MLP *ws, real *grads, const real *params,
                         const real *X,        # IN (n,D)^T, feature rows ld_X apart
                         Py_ssize_t ld_X, Py_ssize_t n, bint one_block) noexcept nogil:
    # reference_mlp.loss_and_gradients' backward sweep from the top delta: the
    # data term, added into grads (the wide layers' weights into their lanes;
    # a packed layer's written instead where the batch is one block,
    # gemm.writes_weight_gradient)
    cdef Py_ssize_t l, J, K, part, parts
    cdef bint packed_input
    cdef real *delta = layer_outputs(ws, <real *> ws.outputs, ws.num_layers - 1)
    cdef const real *below
    cdef real *delta_below
    cdef real *db
    for l in range(ws.num_layers - 1, -1, -1):
        J = ws.sizes[l]
        K = ws.sizes[l + 1]
        if packs_weight_gradient(J, K):
            # dW and db into grads (one chain per weight, gemm.h), then delta_below
            below = X if l == 0 else layer_outputs(ws, <real *> ws.outputs, l - 1)
            dense_backward_packed(ws.path, grads + ws.weight_offsets[l], grads + ws.bias_offsets[l], delta, below,
                                  ld_X if l == 0 else n, n, J, K, <real *> ws.pack, ws.num_threads,
                                  not writes_weight_gradient(J, K, one_block),
                                  <real *> ws.pack_shared, ws.pack_shared_elements)
            if l == 0:
                break
            delta_below = layer_outputs(ws, <real *> ws.deltas, l - 1)
            # the tiles on a layer too narrow, or a block too short, to pack the weights for (the same bits)
            packed_input = packs_weights_on_block(J, K, n)
            if ws.hidden == TANH and not packed_input:
                dense_tanh_backward_input(ws.path, delta_below, delta, params + ws.weight_offsets[l], below, n, J, K)
            elif ws.hidden == TANH:
                dense_tanh_backward_input_packed(ws.path, delta_below, delta, params + ws.weight_offsets[l], below, n,
                                                 J, K, <real *> ws.pack, ws.num_threads, <real *> ws.pack_shared,
                                                 ws.pack_shared_elements)
            else:
                if not packed_input:
                    dense_backward_input(ws.path, delta_below, delta, params + ws.weight_offsets[l], n, J, K)
                else:
                    dense_backward_input_packed(ws.path, delta_below, delta, params + ws.weight_offsets[l], n, J, K,
                                                <real *> ws.pack, ws.num_threads, <real *> ws.pack_shared,
                                                ws.pack_shared_elements)
                if ws.hidden != IDENTITY_HIDDEN:
                    activation_backward(ws.path, delta_below, delta_below, below, n * J, <Activation> ws.hidden)
            delta = delta_below
            continue
        parts = num_parts(ws, (2 if l > 0 else 1) * n * J * K, J) if use_tiles(J, K) else 1
        if parts > 1:
            # db = delta.sum(axis=0); then dW's rows and delta_below's features, shared
            db = grads + ws.bias_offsets[l]
            bias_gradient(ws.path, db, delta, n, K)
            below = X if l == 0 else layer_outputs(ws, <real *> ws.outputs, l - 1)
            delta_below = NULL if l == 0 else layer_outputs(ws, <real *> ws.deltas, l - 1)
            for part in prange(parts, num_threads=ws.num_threads, schedule="dynamic"):
                dense_backward_rows(ws, delta_below, <real *> ws.lanes + ws.weight_offsets[l] * ws.lanes_per_weight,
                                    delta, params + ws.weight_offsets[l], below, ld_X if l == 0 else n, n, J, K,
                                    part_start(part, parts, J), part_start(part + 1, parts, J))
            delta = delta_below
            continue
        # dW = a_below.T @ delta; db = delta.sum(axis=0)
        if l == 0:
            dense_backward(ws.path, grads + ws.weight_offsets[l],
                           <real *> ws.lanes + ws.weight_offsets[l] * ws.lanes_per_weight,
                           grads + ws.bias_offsets[l], delta, X, ld_X, n, J, K)
            break
        below = layer_outputs(ws, <real *> ws.outputs, l - 1)
        delta_below = layer_outputs(ws, <real *> ws.deltas, l - 1)
        dense_backward(ws.path, grads + ws.weight_offsets[l],
                       <real *> ws.lanes + ws.weight_offsets[l] * ws.lanes_per_weight,
                       grads + ws.bias_offsets[l], delta, below, n, n, J, K)
        # delta_below = delta @ W.T, times the hidden activation's derivative
        if ws.hidden == TANH:
            dense_tanh_backward_input(ws.path, delta_below, delta, params + ws.weight_offsets[l], below, n, J, K)
        else:
            dense_backward_input(ws.path, delta_below, delta, params + ws.weight_offsets[l], n, J, K)
            if ws.hidden != IDENTITY_HIDDEN:
                activation_backward(ws.path, delta_below, delta_below, below, n * J, <Activation> ws.hidden)
        delta = delta_below


cdef void dense_backward_rows(const MLP *ws,
                              real *delta_below,         # OUT (n,J)^T, features j0..j1-1; NULL for the input layer
                              real *dW_lanes,            # OUT (J*K, LANES), rows j0..j1-1, accumulated
                              const real *delta,         # IN  (n,K)^T
                              const real *W,             # IN  (J,K)
                              const real *below,         # IN  (n,J)^T, feature rows ld_below apart
                              Py_ssize_t ld_below,
                              Py_ssize_t n, Py_ssize_t J, Py_ssize_t K, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    # block_backward's products of a wide layer for inputs j0..j1-1 (the same bits):
    # dW[j0:j1] += below[:, j0:j1].T.dot(delta), into its lanes (layers.dense_backward);
    # delta_below[:, j0:j1] = delta.dot(W[j0:j1].T) times the activation's derivative
    # (layers.dense_tanh_backward_input, or dense_backward_input then activation_backward)
    correlate_features(ws.path, dW_lanes + j0 * K * ws.lanes_per_weight, below + j0 * ld_below, ld_below, delta, n,
                       j1 - j0, K)
    if delta_below == NULL:
        return
    if ws.hidden == TANH:
        combine_features(ws.path, delta_below + j0 * n, delta, n, W + j0 * K, 1, K, NULL, below + j0 * n, n, K,
                         j1 - j0)
        return
    combine_features(ws.path, delta_below + j0 * n, delta, n, W + j0 * K, 1, K, NULL, NULL, n, K, j1 - j0)
    if ws.hidden != IDENTITY_HIDDEN:
        activation_backward(ws.path, delta_below + j0 * n, delta_below + j0 * n, below + j0 * n, (j1 - j0) * n,
                            <Activation> ws.hidden)
