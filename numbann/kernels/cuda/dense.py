"""Dense (fully connected) layer kernels (CUDA): the twins of :mod:`numbann.kernels.dense`.

Shapes as on the CPU: X (N, I), W (I, O) — Y = X @ W + b —, b (O,) or empty
(no bias), A and dA (N, O); C-contiguous device arrays of one float dtype.
Views of a flat device parameter buffer (``flat[o:o + I*O].reshape(I, O)``)
are C-contiguous and work as they are.

The matrix products are tiled: a TILE x TILE block of threads computes one
TILE x TILE tile of the output, one element per thread, stepping through the
shared dimension a tile at a time with both operand tiles staged in shared
memory. Loads are guarded (partial tiles read zeros) and coalesced: a
transposed operand is read along its rows and written transposed into a
tile padded to TILE + 1 columns, so neither the loads nor the shared-memory
stores conflict.

- ``gemm_nn`` … ``gemm_tt``: ``C (+)= f(op(A) @ op(B) + bias)``; the forward
  pass is ``gemm_nn`` with the bias and the activation in its epilogue.
- ``dense_grads``: the whole backward of a layer in one launch. Its first
  blocks compute the tiles of dW = Xᵀ dZ, the others those of dX = dZ Wᵀ;
  dZ = dA ⊙ f'(·) is never stored — each block applies the activation's
  derivative (from the forward output A) to the dA values it stages — and
  the blocks of dW's first tile row also sum the dZ columns they stage,
  which gives db with no pass of its own.
"""

import numba

from ..._cuda import cuda
from ..activations import IDENTITY, SOFTMAX
from . import activations as _act
from ._launch import (
    TILE,
    TILE_PAD,
    Launch,
    array_types,
    float_type,
    kernel_set,
    optional,
    per_dtype,
    run,
    tile_grid,
)

__all__ = ["gemm", "dense_forward", "dense_backward", "forward_launches", "backward_launches",
           "kernels", "signatures"]


def _loader(dtype, grad):
    """A device function ``load(M, Y, act, r, c, rows, cols)``: M[r, c], or 0 outside
    (rows, cols); with *grad*, M is a dA and the value is dZ = dA ⊙ f'(·) from Y[r, c]
    (Y the forward output, of M's shape)."""
    zero = dtype.type(0)
    backward = _act.device_functions(dtype).backward

    @cuda.jit(device=True)
    def load(M, Y, act, r, c, rows, cols):
        if r >= rows or c >= cols:
            return zero
        v = M[r, c]
        if grad and act != IDENTITY:
            v = backward(act, Y[r, c], v)
        return v

    return load


def _tile_product(dtype, trans_a, trans_b, grad_a, grad_b):
    """A device function: this thread's element of the (row0, col0) tile of op(A) @ op(B),
    op(A) (m, k), op(B) (k, n); with *grad_a* (*grad_b*) the A (B) operand is a dA whose
    values are turned into dZ as they are staged (see :func:`_loader`). Returns
    (element, Σ of the staged op(B) column) — the column sum only where *sum_cols*."""
    zero = dtype.type(0)
    load_a, load_b = _loader(dtype, grad_a), _loader(dtype, grad_b)

    @cuda.jit(device=True)
    def product(A, B, Y, act, m, n, k, row0, col0, sa, sb, sum_cols):
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        acc = zero
        csum = zero
        for k0 in range(0, k, TILE):
            # sa[r, q] = op(A)[row0 + r, k0 + q], sb[q, c] = op(B)[k0 + q, col0 + c]; a
            # transposed operand is read along its rows and stored transposed
            if trans_a:  # A (k, m)
                sa[tx, ty] = load_a(A, Y, act, k0 + ty, row0 + tx, k, m)
            else:
                sa[ty, tx] = load_a(A, Y, act, row0 + ty, k0 + tx, m, k)
            if trans_b:  # B (n, k)
                sb[tx, ty] = load_b(B, Y, act, col0 + ty, k0 + tx, n, k)
            else:
                sb[ty, tx] = load_b(B, Y, act, k0 + ty, col0 + tx, k, n)
            cuda.syncthreads()
            for q in range(TILE):
                acc += sa[ty, q] * sb[q, tx]
            if sum_cols:
                for q in range(TILE):
                    csum += sb[q, tx]
            cuda.syncthreads()
        return acc, csum

    return product


def _make_gemm(dtype, trans_a, trans_b):
    nb = float_type(dtype)
    forward = _act.device_functions(dtype).forward
    product = _tile_product(dtype, trans_a, trans_b, False, False)

    @cuda.jit
    def gemm(A, B, C, bias, has_bias, act, accumulate, colsum, has_colsum):
        """C = f(op(A) @ op(B) + bias) (+ C if accumulate); op(A) (m, k), op(B) (k, n).

        With has_colsum: colsum[c] (+)= Σ_k op(B)[k, c] (+ if accumulate).
        """
        sa = cuda.shared.array((TILE, TILE_PAD), nb)  # sa[r, q] = op(A)[row0 + r, k0 + q]
        sb = cuda.shared.array((TILE, TILE_PAD), nb)  # sb[q, c] = op(B)[k0 + q, col0 + c]
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row0, col0 = cuda.blockIdx.y * TILE, cuda.blockIdx.x * TILE
        m, n = C.shape
        k = A.shape[0] if trans_a else A.shape[1]
        sum_cols = has_colsum and cuda.blockIdx.y == 0 and ty == 0
        acc, csum = product(A, B, C, IDENTITY, m, n, k, row0, col0, sa, sb, sum_cols)
        r, c = row0 + ty, col0 + tx
        if r < m and c < n:
            if has_bias:
                acc += bias[c]
            acc = forward(act, acc)
            if accumulate:
                acc += C[r, c]
            C[r, c] = acc
        if sum_cols and c < n:
            colsum[c] = csum + colsum[c] if accumulate else csum

    return gemm


def _make_grads(dtype):
    nb = float_type(dtype)
    grad_w = _tile_product(dtype, True, False, False, True)  # Xᵀ @ dZ
    grad_x = _tile_product(dtype, False, True, True, False)  # dZ @ Wᵀ

    @cuda.jit
    def dense_grads(X, W, A, dA, act, dW, db, has_bias, dX, dw_blocks, accumulate):
        """dW (+)= Xᵀ dZ and db (+)= Σ_rows dZ (blocks < dw_blocks), dX = dZ Wᵀ (the
        others), dZ = dA ⊙ f'(·) from the forward output A (act: an elementwise code)."""
        sa = cuda.shared.array((TILE, TILE_PAD), nb)
        sb = cuda.shared.array((TILE, TILE_PAD), nb)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        n, o = dA.shape
        i_in = W.shape[0]
        b = cuda.blockIdx.x
        if b < dw_blocks:  # a tile of dW (I, O): the same branch for the whole block
            cols = (o + TILE - 1) // TILE
            row0, col0 = (b // cols) * TILE, (b % cols) * TILE
            sum_cols = has_bias and row0 == 0 and ty == 0
            acc, csum = grad_w(X, dA, A, act, i_in, o, n, row0, col0, sa, sb, sum_cols)
            r, c = row0 + ty, col0 + tx
            if r < i_in and c < o:
                dW[r, c] = acc + dW[r, c] if accumulate else acc
            if sum_cols and c < o:
                db[c] = csum + db[c] if accumulate else csum
        else:  # a tile of dX (N, I)
            b -= dw_blocks
            cols = (i_in + TILE - 1) // TILE
            row0, col0 = (b // cols) * TILE, (b % cols) * TILE
            acc, _ = grad_x(dA, W, A, act, n, i_in, o, row0, col0, sa, sb, False)
            r, c = row0 + ty, col0 + tx
            if r < n and c < i_in:
                dX[r, c] = acc

    return dense_grads


@per_dtype
def kernels(dtype):
    """The matrix-product kernels for float *dtype*: one per transposition, and the
    fused backward of a layer."""
    return kernel_set(dense_grads=_make_grads(dtype), **{
        f"gemm_{'t' if ta else 'n'}{'t' if tb else 'n'}": _make_gemm(dtype, ta, tb)
        for ta in (False, True) for tb in (False, True)
    })


def signatures(dtype):
    """Kernel name → argument types, as the wrappers launch them (for the PTX test)."""
    v, m = array_types(dtype)
    b, i64 = numba.boolean, numba.int64
    sig = (m, m, m, v, b, i64, b, v, b)
    return {"dense_grads": (m, m, m, m, i64, m, v, b, m, i64, b),
            **{name: sig for name in ("gemm_nn", "gemm_nt", "gemm_tn", "gemm_tt")}}


# --- host wrappers (launch only; no synchronisation) -------------------------------


def _gemm_launches(A, B, C, trans_a, trans_b, bias=None, act=IDENTITY, accumulate=False,
                   colsum=None, stream=0, pretyped=False):
    m, n = C.shape
    if m == 0 or n == 0:
        return []
    name = f"gemm_{'t' if trans_a else 'n'}{'t' if trans_b else 'n'}"
    kernel = getattr(kernels(C.dtype), name)
    bias, has_bias = optional(bias, C.dtype)
    colsum, has_colsum = optional(colsum, C.dtype)
    return [Launch(kernel, tile_grid(m, n), (TILE, TILE),
                   (A, B, C, bias, has_bias, int(act), bool(accumulate), colsum, has_colsum),
                   stream, pretyped=pretyped)]


def gemm(A, B, C, trans_a=False, trans_b=False, accumulate=False, stream=0):
    """C ← op(A) @ op(B) (+ C with ``accumulate``), op(X) = Xᵀ if the flag is set.

    op(A) is (m, k), op(B) is (k, n), C is (m, n); one float dtype, C-contiguous.
    """
    run(_gemm_launches(A, B, C, trans_a, trans_b, accumulate=accumulate, stream=stream))


def forward_launches(X, W, b, act, A, stream=0, pretyped=False):
    """The launches of :func:`dense_forward`: the product (one; two for softmax)."""
    return (_gemm_launches(X, W, A, False, False, b, IDENTITY if act == SOFTMAX else act,
                           stream=stream, pretyped=pretyped)
            + (_act.forward_launches(SOFTMAX, A, A, stream, pretyped) if act == SOFTMAX
               else []))


def dense_forward(X, W, b, act, A, stream=0):
    """A = f(X @ W + b) with activation code *act*; A (N, O) is written.

    An empty *b* (or None) means no bias. Bias and elementwise activation
    run in the product's epilogue; softmax is one more row kernel on A.
    """
    run(forward_launches(X, W, b, act, A, stream))


def backward_launches(X, W, A, dA, act, dZ, dW, db, dX, need_dx, accumulate, stream=0,
                      pretyped=False):
    """The launches of :func:`dense_backward`: one (two for softmax)."""
    launches = []
    if act == SOFTMAX:  # a row reduction: dZ first, then the products read it
        launches = _act.backward_launches(SOFTMAX, A, dA, dZ, stream, pretyped)
        dA, act = dZ, IDENTITY
    (i_in, o), n = W.shape, dA.shape[0]
    if i_in == 0 or o == 0:
        return launches
    dw_x, dw_y = tile_grid(i_in, o)
    dx_x, dx_y = tile_grid(n, i_in) if need_dx and n > 0 else (0, 0)
    if not need_dx or n == 0:
        dX = optional(None, W.dtype, 2)[0]
    db, has_bias = optional(db, W.dtype)
    return launches + [Launch(kernels(W.dtype).dense_grads, dw_x * dw_y + dx_x * dx_y,
                              (TILE, TILE), (X, W, A, dA, int(act), dW, db, has_bias, dX,
                                             dw_x * dw_y, bool(accumulate)),
                              stream, pretyped=pretyped)]


def dense_backward(X, W, A, dA, act, dZ, dW, db, dX, need_dx, accumulate, stream=0):
    """Gradients of a dense layer A = f(X @ W + b) given dA = ∂L/∂A.

    dW = Xᵀ @ dZ  (I, O),   db = Σ_rows dZ  (O,),   dX = dZ @ Wᵀ  (N, I),
    dZ = dA ⊙ f'(·)  (N, O). With ``accumulate`` dW and db are added to; with
    ``need_dx=False`` dX is not computed (pass any array); an empty db means
    the layer has no bias.

    One launch (:func:`backward_launches`): f' is applied to dA as the products
    read it, so dZ — scratch, as on the CPU, and allowed to be dA itself — is
    not written and dA is left as it is. Only softmax, a row reduction, writes
    dZ first (one more launch).
    """
    run(backward_launches(X, W, A, dA, act, dZ, dW, db, dX, need_dx, accumulate, stream))
