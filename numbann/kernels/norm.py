"""Batch normalization and dropout kernels (CPU).

Shapes: Z, Y, X̂, dY, dZ are (N, C), C-contiguous, one float dtype; μ, r, γ,
β and the running statistics are (C,).

**Batch normalization** (Ioffe & Szegedy, 2015). In training mode, over the
N rows of the batch:

    μ = (1/N) Σ_i Z_i,   σ² = (1/N) Σ_i (Z_i − μ)²  (biased),   r = 1/√(σ² + ε),
    X̂ = (Z − μ) ⊙ r,   Y = γ ⊙ X̂ + β,

and the running statistics follow ``running ← (1 − f)·running + f·batch``,
with the batch variance unbiased (×N/(N − 1), PyTorch) or biased (the
textbook). In evaluation mode μ and σ² are the running statistics. Backward,
with G = γ ⊙ dY (γ = 1 without affine parameters):

    dγ = Σ_i dY ⊙ X̂,   dβ = Σ_i dY,
    training:   dZ = (r/N) ⊙ (N·G − Σ_i G − X̂ ⊙ Σ_i G ⊙ X̂),
    evaluation: dZ = r ⊙ G.

**Dropout.** Element *index* of a batch keeps its value when
``keep_bits(seed, count, index) ≥ threshold``, with threshold = round(p·2³²):
a counter-based generator (two SplitMix64 finalisers), so a mask depends on
(seed, count, index) alone and the compiled engine, the object path and the
GPU draw the same masks. *count* is the number of training forwards the
layer has done; *index* is i·C + j. Kept values are multiplied by *scale*
(1/(1 − p) for PyTorch's inverted dropout, 1 for the textbook's).
"""

import numpy as np

from .._config import jit
from ._fpenv import fp_enter, fp_leave

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S27, _S30, _S31, _S32 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(32)


def dropout_threshold(p):
    """The integer threshold of :func:`keep_bits` for a drop probability p ∈ [0, 1]."""
    return int(round(float(p) * 2.0**32))


@jit
def _mix64(z):
    """SplitMix64's finaliser: a bijection of uint64 that mixes every bit."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jit
def keep_bits(seed, count, index):
    """32 random bits (as a uint64 < 2³²) for element *index* of draw *count* of *seed*."""
    key = _mix64(np.uint64(seed) + np.uint64(count) * _GOLDEN)
    return _mix64(key + np.uint64(index) * _GOLDEN) >> _S32


@jit
def dropout_inplace(Y, seed, count, threshold, scale):
    """Y ← Y ⊙ mask · scale (Y (N, C)); mask_e = [keep_bits(seed, count, e) ≥ threshold].

    The same call is the backward pass (the mask is drawn again, not stored).
    """
    csr = fp_enter()
    y = Y.reshape(-1)
    s = y.dtype.type(scale)
    zero = y.dtype.type(0)
    thr = np.uint64(threshold)
    key = _mix64(np.uint64(seed) + np.uint64(count) * _GOLDEN)
    for e in range(y.size):
        keep = (_mix64(key + np.uint64(e) * _GOLDEN) >> _S32) >= thr
        y[e] = y[e] * s if keep else zero
    fp_leave(csr)


@jit
def column_moments(Z, mean, var):
    """mean[j] = (1/N) Σ_i Z[i, j], var[j] = (1/N) Σ_i (Z[i, j] − mean[j])² (two passes)."""
    n, c = Z.shape
    zero = Z.dtype.type(0)
    inv_n = Z.dtype.type(1.0 / n)
    for j in range(c):
        mean[j] = zero
        var[j] = zero
    for i in range(n):
        for j in range(c):
            mean[j] += Z[i, j]
    for j in range(c):
        mean[j] *= inv_n
    for i in range(n):
        for j in range(c):
            d = Z[i, j] - mean[j]
            var[j] += d * d
    for j in range(c):
        var[j] *= inv_n


@jit
def normalize_inplace(Z, gamma, beta, shift, inv_std, xhat):
    """X̂ = (Z − shift) ⊙ inv_std into *xhat*; Z ← γ ⊙ X̂ + β (no γ, β when they are empty)."""
    n, c = Z.shape
    affine = gamma.size > 0
    for i in range(n):
        for j in range(c):
            h = (Z[i, j] - shift[j]) * inv_std[j]
            xhat[i, j] = h
            Z[i, j] = gamma[j] * h + beta[j] if affine else h


@jit
def batch_norm_train(Z, gamma, beta, eps, mean, var, inv_std, xhat):
    """Training-mode batch normalization of Z (N, C) in place (Z ← γ ⊙ X̂ + β), keeping
    X̂ and r = 1/√(σ² + ε) for the backward and the batch mean and biased variance."""
    csr = fp_enter()
    column_moments(Z, mean, var)
    e = Z.dtype.type(eps)
    one = Z.dtype.type(1)
    for j in range(var.size):
        inv_std[j] = one / np.sqrt(var[j] + e)
    normalize_inplace(Z, gamma, beta, mean, inv_std, xhat)
    fp_leave(csr)


@jit
def batch_norm_eval(Z, gamma, beta, running_mean, running_var, eps, inv_std, xhat):
    """Evaluation-mode batch normalization of Z (N, C) in place with the running statistics;
    keeps X̂ and r = 1/√(running_var + ε) for a backward."""
    csr = fp_enter()
    e = Z.dtype.type(eps)
    one = Z.dtype.type(1)
    for j in range(inv_std.size):
        inv_std[j] = one / np.sqrt(running_var[j] + e)
    normalize_inplace(Z, gamma, beta, running_mean, inv_std, xhat)
    fp_leave(csr)


@jit
def update_running(mean, var, n, running_mean, running_var, factor, unbiased):
    """running ← (1 − factor)·running + factor·batch; the variance ×n/(n − 1) if unbiased."""
    csr = fp_enter()
    dt = running_mean.dtype.type
    f, keep = dt(factor), dt(1.0 - factor)
    correction = dt(n / (n - 1.0)) if unbiased and n > 1 else dt(1)
    for j in range(running_mean.size):
        running_mean[j] = keep * running_mean[j] + f * mean[j]
        running_var[j] = keep * running_var[j] + f * (var[j] * correction)
    fp_leave(csr)


@jit
def batch_norm_backward(dY, xhat, inv_std, gamma, dZ, dgamma, dbeta, batch_stats, accumulate,
                        sums):
    """dZ from dY (may be the same array) and the parameter gradients dγ, dβ (added to with
    *accumulate*; skipped when empty); *batch_stats*: the forward used the batch's
    statistics (training mode), else the running ones. *sums* is (2, C) scratch."""
    csr = fp_enter()
    n, c = dY.shape
    dt = dY.dtype.type
    zero = dt(0)
    affine = gamma.size > 0
    if affine and not accumulate:
        for j in range(c):
            dgamma[j] = zero
            dbeta[j] = zero
    sum_g, sum_gx = sums[0], sums[1]
    for j in range(c):
        sum_g[j] = zero
        sum_gx[j] = zero
    for i in range(n):
        for j in range(c):
            d = dY[i, j]
            if affine:
                dbeta[j] += d
                dgamma[j] += d * xhat[i, j]
            g = gamma[j] * d if affine else d
            sum_g[j] += g
            sum_gx[j] += g * xhat[i, j]
    if not batch_stats:
        for i in range(n):
            for j in range(c):
                g = gamma[j] * dY[i, j] if affine else dY[i, j]
                dZ[i, j] = inv_std[j] * g
        fp_leave(csr)
        return
    inv_n = dt(1.0 / n)
    for i in range(n):
        for j in range(c):
            g = gamma[j] * dY[i, j] if affine else dY[i, j]
            dZ[i, j] = inv_std[j] * (g - inv_n * (sum_g[j] + xhat[i, j] * sum_gx[j]))
    fp_leave(csr)
