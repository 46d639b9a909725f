# network_blocks.pxi -- the network on one block of n rows, for one thread:
# defines network_forward_block (reference.forward) and network_backward_block
# (reference.backward), the layer kernels of layers.pxd applied layer by layer
# in the workspace's buffers (workspace.pxi), on the workspace's dispatch path;
# a layer wide enough (gemm.use_packed, gemm.packs_weight_gradient) takes their packed twins of gemm.pxd,
# which may share a product between the threads when called outside the slabs'
# parallel loop (a step that is one block).

cdef void network_forward_block(const workspace_t *ws, int thread,
                                const real *params,  # IN
                                const real *X,       # IN (n,D)^T, feature rows ld_X apart
                                Py_ssize_t ld_X, Py_ssize_t n) noexcept nogil:
    # reference.forward: z = dense_forward(inp, Wl, bl); inp = activation_forward(z) below the top
    cdef Py_ssize_t l, J, K
    cdef const real *inp = X
    cdef Py_ssize_t ld_inp = ld_X
    cdef real *z
    cdef int fused
    for l in range(ws.num_layers):
        J = ws.sizes[l]
        K = ws.sizes[l + 1]
        z = <real *> thread_outputs(ws, thread, l)
        fused = FBP_GEMM_NO_ACTIVATION
        if packs_weights_on_block(J, K, n):
            # a hidden layer's activation applied by the product, tile by tile
            fused = fused_activation(ws.activation) if l < ws.num_layers - 1 else FBP_GEMM_NO_ACTIVATION
            dense_forward_packed(ws.path, z, inp, ld_inp, params + ws.weight_offsets[l], params + ws.bias_offsets[l],
                                 n, J, K, <real *> thread_pack(ws, thread), ws.num_threads, <real *> ws.pack_shared,
                                 ws.pack_shared_elements, fused)
        else:
            dense_forward_shared(ws.path, z, inp, ld_inp, params + ws.weight_offsets[l], params + ws.bias_offsets[l],
                                 n, J, K, ws.num_threads)
        if l < ws.num_layers - 1 and fused == FBP_GEMM_NO_ACTIVATION:
            activation_forward(ws.path, z, z, n * K, ws.activation)
        inp = z
        ld_inp = n


cdef void network_backward_block(const workspace_t *ws, int thread,
                                 real *grads,             # OUT, accumulated
                                 const real *params,      # IN
                                 const real *X,           # IN (n,D)^T, feature rows ld_X apart
                                 Py_ssize_t ld_X,
                                 const Py_ssize_t *y,     # IN (n,)
                                 Py_ssize_t n,
                                 bint one_block) noexcept nogil:
    # reference.backward after network_forward_block: the data term only;
    # sgd_update adds the L2 term. The logits become probs, then delta, in place.
    # one_block: this is the slab's only block (slab_gradient)
    cdef Py_ssize_t l, J, K
    cdef Py_ssize_t top = ws.num_layers - 1
    cdef Py_ssize_t C = ws.sizes[ws.num_layers]
    cdef real *delta = <real *> thread_outputs(ws, thread, top)
    cdef real *pack = <real *> thread_pack(ws, thread)
    cdef const real *below
    cdef real *delta_below
    # delta3 = probs - onehot(y)
    softmax_forward(ws.path, delta, delta, <real *> thread_scratch(ws, thread), n, C)
    softmax_cross_entropy_backward(ws.path, delta, delta, y, n, C)
    for l in range(top, -1, -1):
        J = ws.sizes[l]
        K = ws.sizes[l + 1]
        below = X if l == 0 else <real *> thread_outputs(ws, thread, l - 1)
        if packs_weight_gradient(J, K):
            # the slab's only block writes dW, which slab_gradient left unzeroed
            dense_backward_packed(ws.path, grads + ws.weight_offsets[l], grads + ws.bias_offsets[l], delta, below,
                                  ld_X if l == 0 else n, n, J, K, pack, ws.num_threads,
                                  not writes_weight_gradient(J, K, one_block), <real *> ws.pack_shared,
                                  ws.pack_shared_elements)
        elif one_block and carries_lanes(J, K):
            # the slab's only block: its partial sums folded as they are made
            dense_backward_folded(ws.path, grads + ws.weight_offsets[l], <real *> thread_lanes(ws, thread, l),
                                  grads + ws.bias_offsets[l], delta, below, ld_X if l == 0 else n, n, J, K)
        else:
            dense_backward(ws.path, grads + ws.weight_offsets[l], <real *> thread_lanes(ws, thread, l),
                           grads + ws.bias_offsets[l], delta, below, ld_X if l == 0 else n, n, J, K)
        if l > 0:
            delta_below = <real *> thread_deltas(ws, thread, l - 1)
            # delta2 = delta3.dot(W2.T) * (1 - a1**2)
            if packs_weights_on_block(J, K, n) and ws.activation == TANH:
                dense_tanh_backward_input_packed(ws.path, delta_below, delta, params + ws.weight_offsets[l], below,
                                                 n, J, K, pack, ws.num_threads, <real *> ws.pack_shared,
                                                 ws.pack_shared_elements)
            elif packs_weights_on_block(J, K, n):
                dense_backward_input_packed(ws.path, delta_below, delta, params + ws.weight_offsets[l], n, J, K,
                                            pack, ws.num_threads, <real *> ws.pack_shared, ws.pack_shared_elements)
                activation_backward(ws.path, delta_below, delta_below, below, n * J, ws.activation)
            elif ws.activation == TANH:
                dense_tanh_backward_input_shared(ws.path, delta_below, delta, params + ws.weight_offsets[l], below,
                                                 n, J, K, ws.num_threads)
            else:
                dense_backward_input(ws.path, delta_below, delta, params + ws.weight_offsets[l], n, J, K)
                activation_backward(ws.path, delta_below, delta_below, below, n * J, ws.activation)
            delta = delta_below
