"""General matrix product C ← α·op(A)·op(B) + β·C for compiled code.

``np.dot`` inside Numba always computes C = A·B. The full BLAS gemm also
scales and accumulates, which lets a layer add into an existing gradient
(β = 1) or apply a plain SGD step without materialising the gradient
(α = −lr, β = 1 into the weights). It calls the same BLAS as ``np.dot`` —
SciPy's, through Numba's ``numba_xxgemm`` helper — so results agree.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._config import CACHE, ERROR_MODEL, FASTMATH


def _xxgemm_function(dtype):
    ptr = types.CPointer(dtype)
    sig = types.intc(types.char, types.char, types.char, types.intp, types.intp, types.intp,
                     ptr, ptr, types.intp, ptr, types.intp, ptr, ptr, types.intp)
    return types.ExternalFunction("numba_xxgemm", sig)


_XXGEMM = {types.float32: (_xxgemm_function(types.float32), ord("s")),
           types.float64: (_xxgemm_function(types.float64), ord("d"))}
_T, _N = ord("t"), ord("n")

#: Products with fewer rows than this (C = A·B) or a shorter inner dimension
#: (C = Aᵀ·B, e.g. a weight gradient at batch size 1) run as plain loops: BLAS's
#: gemm repacks its operands on every call, which for a few rows costs far more
#: than the product (≈ 28 µs for 2 × 784 × 50 here, ≈ 3 µs as a loop). The loops
#: skip zero entries of A, as reference BLAS does — MNIST pixels are mostly zero.
SMALL = 4


def gemm(A, B, C, alpha, beta, trans_a, trans_b):
    """C ← α·op(A)·op(B) + β·C, op(X) = Xᵀ if the flag is set (reference version).

    op(A) is (m, k), op(B) is (k, n), C is (m, n); all C-contiguous, one dtype.
    Shapes are not checked in compiled code.
    """
    a = A.T if trans_a else A
    b = B.T if trans_b else B
    C[...] = alpha * (a @ b) + (beta * C if beta != 0 else 0)  # noqa: the compiled twin is below


_JIT = dict(fastmath=set(FASTMATH), error_model=ERROR_MODEL, cache=CACHE)


@njit(**_JIT)
def _small_gemm(A, B, C, alpha, beta, trans_a, trans_b):
    """C ← α·op(A)·op(B) + β·C by loops. With B as stored, row p of C gathers
    α·op(A)[p, q]·B[q, :] over the nonzero op(A)[p, q]; with Bᵀ each C[p, j] is a
    contiguous dot product of op(A)[p, :] and B[j, :]."""
    m, n = C.shape
    k = A.shape[0] if trans_a else A.shape[1]
    for p in range(m):
        row = C[p]
        if trans_b:
            for j in range(n):
                acc = row.dtype.type(0)
                for q in range(k):
                    acc += (A[q, p] if trans_a else A[p, q]) * B[j, q]
                row[j] = alpha * acc + (beta * row[j] if beta != 0 else 0)
            continue
        if beta == 0:
            row[:] = 0
        elif beta != 1:
            for j in range(n):
                row[j] *= beta
        for q in range(k):
            a = alpha * (A[q, p] if trans_a else A[p, q])
            if a != 0:
                for j in range(n):
                    row[j] += a * B[q, j]


@overload(gemm, jit_options=_JIT)
def _gemm_impl(A, B, C, alpha, beta, trans_a, trans_b):
    if A.dtype not in _XXGEMM:
        return None
    xxgemm, kind = _XXGEMM[A.dtype]
    np_dtype = np.dtype(str(A.dtype))

    def impl(A, B, C, alpha, beta, trans_a, trans_b):
        m, n = C.shape
        k = A.shape[0] if trans_a else A.shape[1]
        if m == 0 or n == 0:
            return
        if k == 0:  # an empty sum: C ← β·C (β = 0 clears C, even of NaN)
            c = C.reshape(-1)
            for i in range(c.size):
                c[i] = c[i] * beta if beta != 0 else 0
            return
        scalars = np.empty(2, np_dtype)
        scalars[0] = alpha
        scalars[1] = beta
        if (m < SMALL and not trans_a) or (k < SMALL and trans_a):
            _small_gemm(A, B, C, alpha, beta, trans_a, trans_b)
            return
        # BLAS is column-major: a row-major X is Xᵀ to it, so compute
        # Cᵀ = op(B)ᵀ·op(A)ᵀ, swapping the operands and their roles.
        xxgemm(kind, _T if trans_b else _N, _T if trans_a else _N, n, m, k,
               scalars[0:].ctypes, B.ctypes, k if trans_b else n,
               A.ctypes, m if trans_a else k, scalars[1:].ctypes, C.ctypes, n)

    return impl
