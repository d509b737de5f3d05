"""Dense (fully connected) layer kernels (CUDA): the twins of :mod:`numbann.kernels.dense`.

Shapes as on the CPU: X (N, I), W (I, O) — Y = X @ W + b —, b (O,) or empty
(no bias), A and dA (N, O); C-contiguous device arrays of one float dtype.
Views of a flat device parameter buffer (``flat[o:o + I*O].reshape(I, O)``)
are C-contiguous and work as they are.

The matrix products are one tiled kernel, ``C (+)= op(A) @ op(B)``: a
TILE x TILE block of threads computes one TILE x TILE tile of C, one element
per thread, stepping through the shared dimension a tile at a time with
both operand tiles staged in shared memory. Loads are guarded (partial tiles
read zeros) and coalesced: a transposed operand is read along its rows and
written transposed into a tile padded to TILE + 1 columns, so neither the
loads nor the shared-memory stores conflict. The epilogue adds the bias and
applies the activation (forward), or adds into C (``accumulate``), and —
for dW = Xᵀ dZ — the blocks of the first tile row also sum the columns of
the dZ tiles they stage, which gives db with no extra pass over dZ.
"""

import numba

from ..._cuda import cuda
from ..activations import IDENTITY, SOFTMAX
from . import activations as _act
from ._launch import (
    TILE,
    TILE_PAD,
    array_types,
    float_type,
    kernel_set,
    optional,
    per_dtype,
    tile_grid,
)

__all__ = ["gemm", "dense_forward", "dense_backward", "kernels", "signatures"]


def _make_gemm(dtype, trans_a, trans_b):
    nb = float_type(dtype)
    zero = dtype.type(0)
    forward = _act.device_functions(dtype).forward

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
        acc = zero
        csum = zero
        for k0 in range(0, k, TILE):
            if trans_a:  # A (k, m): read along A's rows, store transposed
                q, r = k0 + ty, row0 + tx
                sa[tx, ty] = A[q, r] if q < k and r < m else zero
            else:
                r, q = row0 + ty, k0 + tx
                sa[ty, tx] = A[r, q] if r < m and q < k else zero
            if trans_b:  # B (n, k)
                c, q = col0 + ty, k0 + tx
                sb[tx, ty] = B[c, q] if c < n and q < k else zero
            else:
                q, c = k0 + ty, col0 + tx
                sb[ty, tx] = B[q, c] if q < k and c < n else zero
            cuda.syncthreads()
            for q in range(TILE):
                acc += sa[ty, q] * sb[q, tx]
            if sum_cols:
                for q in range(TILE):
                    csum += sb[q, tx]
            cuda.syncthreads()
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


@per_dtype
def kernels(dtype):
    """The matrix-product kernels for float *dtype*, one per transposition."""
    return kernel_set(**{
        f"gemm_{'t' if ta else 'n'}{'t' if tb else 'n'}": _make_gemm(dtype, ta, tb)
        for ta in (False, True) for tb in (False, True)
    })


def signatures(dtype):
    """Kernel name → argument types, as the wrappers launch them (for the PTX test)."""
    v, m = array_types(dtype)
    b, i64 = numba.boolean, numba.int64
    sig = (m, m, m, v, b, i64, b, v, b)
    return {name: sig for name in ("gemm_nn", "gemm_nt", "gemm_tn", "gemm_tt")}


# --- host wrappers (launch only; no synchronisation) -------------------------------


def _launch(A, B, C, trans_a, trans_b, bias=None, act=IDENTITY, accumulate=False, colsum=None,
            stream=0):
    m, n = C.shape
    if m == 0 or n == 0:
        return
    name = f"gemm_{'t' if trans_a else 'n'}{'t' if trans_b else 'n'}"
    kernel = getattr(kernels(C.dtype), name)
    bias, has_bias = optional(bias, C.dtype)
    colsum, has_colsum = optional(colsum, C.dtype)
    kernel[tile_grid(m, n), (TILE, TILE), stream](
        A, B, C, bias, has_bias, int(act), bool(accumulate), colsum, has_colsum)


def gemm(A, B, C, trans_a=False, trans_b=False, accumulate=False, stream=0):
    """C ← op(A) @ op(B) (+ C with ``accumulate``), op(X) = Xᵀ if the flag is set.

    op(A) is (m, k), op(B) is (k, n), C is (m, n); one float dtype, C-contiguous.
    """
    _launch(A, B, C, trans_a, trans_b, accumulate=accumulate, stream=stream)


def dense_forward(X, W, b, act, A, stream=0):
    """A = f(X @ W + b) with activation code *act*; A (N, O) is written.

    An empty *b* (or None) means no bias. Bias and elementwise activation
    run in the product's epilogue; softmax is one more row kernel on A.
    """
    _launch(X, W, A, False, False, b, IDENTITY if act == SOFTMAX else act, stream=stream)
    if act == SOFTMAX:
        _act.softmax_inplace(A, stream)


def dense_backward(X, W, A, dA, act, dZ, dW, db, dX, need_dx, accumulate, stream=0):
    """Gradients of a dense layer A = f(X @ W + b) given dA = ∂L/∂A.

    dZ = dA ⊙ f'(·)  (N, O) — scratch; may be dA itself (then dA is overwritten),
    dW = Xᵀ @ dZ  (I, O),   db = Σ_rows dZ  (O,),   dX = dZ @ Wᵀ  (N, I).
    With ``accumulate`` dW and db are added to; with ``need_dx=False`` dX is
    not computed (pass any array); an empty db means the layer has no bias.
    Launches: one for dZ (none for identity with dZ = dA), one for dW and
    db together, one for dX.
    """
    _act.activation_backward(act, A, dA, dZ, stream)
    _launch(X, dZ, dW, True, False, accumulate=accumulate, colsum=db, stream=stream)
    if need_dx:
        _launch(dZ, W, dX, False, True, stream=stream)
