"""General matrix product C ← α·op(A)·op(B) + β·C for compiled code.

``np.dot`` inside Numba always computes C = A·B. The full BLAS gemm also
scales and accumulates, which lets a layer add into an existing gradient
(β = 1) or apply a plain SGD step without materialising the gradient
(α = −lr, β = 1 into the weights). It calls the same BLAS as ``np.dot`` —
SciPy's, through Numba's ``numba_xxgemm`` helper — so results agree.
"""

import numpy as np
from numba import types
from numba.extending import overload

from .._config import JIT_OPTIONS, jit


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
    C[...] = alpha * (a @ b) + (beta * C if beta != 0 else 0)  # compiled twin: below


@jit
def _small_axpy(A, B, C, alpha, beta):
    """C ← α·A·B + β·C by loops (A (m, k) of any layout, B (k, n)): row p of C gathers
    α·A[p, q]·B[q, :] over the nonzero A[p, q]."""
    m, n = C.shape
    if beta != 1:
        for p in range(m):
            for j in range(n):
                C[p, j] = C[p, j] * beta if beta != 0 else 0
    for p in range(m):
        for q in range(A.shape[1]):
            a = alpha * A[p, q]
            if a != 0:
                for j in range(n):
                    C[p, j] += a * B[q, j]


@jit
def _small_dot(A, B, C, alpha, beta):
    """C ← α·A·Bᵀ + β·C by loops (A (m, k) of any layout, B (n, k)): each C[p, j] is a
    contiguous dot product of A[p, :] and B[j, :]."""
    m, n = C.shape
    for p in range(m):
        for j in range(n):
            acc = C.dtype.type(0)
            for q in range(A.shape[1]):
                acc += A[p, q] * B[j, q]
            C[p, j] = alpha * acc + (beta * C[p, j] if beta != 0 else 0)


def _literal_bool(ty):
    return ty.literal_value if isinstance(ty, types.BooleanLiteral) else None


@overload(gemm, prefer_literal=True, jit_options=JIT_OPTIONS)
def _gemm_impl(A, B, C, alpha, beta, trans_a, trans_b):
    """Specialised on the (literal) transpose flags, so each call site compiles one
    path: a BLAS call, or for small products a loop."""
    if A.dtype not in _XXGEMM:
        return None
    trans_a, trans_b = _literal_bool(trans_a), _literal_bool(trans_b)
    if trans_a is None or trans_b is None:  # flags known only at run time
        def dispatch(A, B, C, alpha, beta, trans_a, trans_b):
            if trans_a:
                if trans_b:
                    gemm(A, B, C, alpha, beta, True, True)
                else:
                    gemm(A, B, C, alpha, beta, True, False)
            elif trans_b:
                gemm(A, B, C, alpha, beta, False, True)
            else:
                gemm(A, B, C, alpha, beta, False, False)

        return dispatch
    xxgemm, kind = _XXGEMM[A.dtype]
    np_dtype = np.dtype(str(A.dtype))
    small = _small_dot if trans_b else _small_axpy
    char_a, char_b = (_T if trans_a else _N), (_T if trans_b else _N)

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
        if (k if trans_a else m) < SMALL:
            small(A.T if trans_a else A, B, C, alpha, beta)
            return
        scalars = np.empty(2, np_dtype)
        scalars[0] = alpha
        scalars[1] = beta
        # BLAS is column-major: a row-major X is Xᵀ to it, so compute
        # Cᵀ = op(B)ᵀ·op(A)ᵀ, swapping the operands and their roles.
        xxgemm(kind, char_b, char_a, n, m, k, scalars[0:].ctypes, B.ctypes,
               k if trans_b else n, A.ctypes, m if trans_a else k, scalars[1:].ctypes,
               C.ctypes, n)

    return impl
