"""Scalar math for the CPU kernels that LLVM can vectorise.

Numba compiles ``np.exp``/``np.tanh`` on float32 to scalar libm calls, which
keeps every loop around them from vectorising: at MNIST shapes the sigmoid
alone then costs about as much as the matrix products. ``exp`` and ``tanh``
here are, for float32, pure arithmetic (Cephes' expf/tanhf polynomials, both
within 2 ulp of the correctly rounded result) that LLVM turns into SIMD code;
for float64 they are NumPy's functions.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from .._config import JIT_OPTIONS


@intrinsic
def _float32_from_bits(typingctx, bits):
    """Reinterpret the low 32 bits of an integer as a float32 (an LLVM bitcast)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], ir.IntType(32)) if bits.bitwidth > 32 else args[0]
        return builder.bitcast(low, ir.FloatType())

    return types.float32(bits), codegen


def exp(x):
    """eˣ; float32: Cephes expf, vectorisable; float64: np.exp."""
    return np.exp(x)


def tanh(x):
    """tanh x; float32: Cephes tanhf, vectorisable; float64: np.tanh."""
    return np.tanh(x)


# no ``reassoc`` here: it would let LLVM fold p·2ᵃ·2ᵇ into p·(2ᵃ·2ᵇ), which overflows
_OPTS = dict(jit_options=dict(JIT_OPTIONS, fastmath=JIT_OPTIONS["fastmath"] - {"reassoc"}))


@overload(exp, **_OPTS)
def _exp_impl(x):
    if x != types.float32:
        return lambda x: np.exp(x)

    f = np.float32
    log2e, c1, c2 = f(1.44269504088896341), f(0.693359375), f(-2.12194440e-4)
    p0, p1, p2 = f(1.9875691500e-4), f(1.3981999507e-3), f(8.3334519073e-3)
    p3, p4, p5 = f(4.1665795894e-2), f(1.6666665459e-1), f(5.0000001201e-1)
    lo, hi, half, one = f(-87.33654), f(88.72283), f(0.5), f(1.0)
    zero, inf = f(0.0), f(np.inf)

    def impl(x):
        xc = min(max(x, lo), hi)
        n = np.floor(xc * log2e + half)
        r = xc - n * c1 - n * c2
        p = (((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * r * r + r + one
        # 2ⁿ as two normal powers of two, so that n = −126 … 128 all work
        k = np.int32(n)
        k1 = k >> np.int32(1)
        y = p * _float32_from_bits((k1 + np.int32(127)) << np.int32(23))
        y = y * _float32_from_bits((k - k1 + np.int32(127)) << np.int32(23))
        if x < lo:
            y = zero  # exp underflows to 0 (below the smallest normal float32)
        if x > hi:
            y = inf
        if x != x:  # NaN in, NaN out (the polynomial would give garbage)
            y = x
        return y

    return impl


@overload(tanh, **_OPTS)
def _tanh_impl(x):
    if x != types.float32:
        return lambda x: np.tanh(x)

    f = np.float32
    q0, q1, q2 = f(-5.70498872745e-3), f(2.06390887954e-2), f(-5.37397155531e-2)
    q3, q4 = f(1.33314422036e-1), f(-3.33332819422e-1)
    small, one, two = f(0.625), f(1.0), f(2.0)

    def impl(x):
        a = np.abs(x)
        # |x| ≥ 0.625: (1 − e)/(1 + e) with e = exp(−2|x|) ≤ 0.29, no cancellation
        e = exp(-two * a)
        big = (one - e) / (one + e)
        big = big if x >= 0 else -big
        z = x * x
        poly = ((((q0 * z + q1) * z + q2) * z + q3) * z + q4) * z * x + x
        return poly if a < small else big

    return impl
