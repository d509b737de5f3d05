"""Batch normalization and dropout kernels (CUDA): the twins of :mod:`numbann.kernels.norm`.

Same names, arguments and math as the CPU kernels, on C-contiguous device
arrays of one float dtype: Z, X̂, dY, dZ (N, C); μ, σ², 1/σ, γ, β and the
running statistics (C,). Every constant of a float32 kernel is a float32
(no ``.f64`` in its PTX) and the sums are taken in the array dtype.

**Dropout masks** come from the CPU's counter-based generator, bit for bit:
:func:`keep_bits` (a device function) is two SplitMix64 finalisers in
uint64 arithmetic with the CPU's masks, so a mask depends on (seed, count,
element index) alone and the GPU drops exactly the elements the CPU drops.
:func:`dropout_inplace` is one grid-stride launch (D may be Y).

**Column statistics** (the batch mean and variance, and the backward's
Σ dY and Σ dY ⊙ X̂) are reductions down the N rows of each column. A block
of TILE x TILE threads owns TILE columns and all their rows: thread (x, y)
walks rows y, y + TILE, … of column x (reads along a row are coalesced),
then the TILE partial sums of a column meet in shared memory
(:func:`column_sum`; every thread of the block reaches its syncthreads,
columns past C contribute zeros). Owning whole columns, a block can go on
at once: in training, one launch computes μ and σ² (two passes, as the
CPU), 1/σ, X̂ and γ ⊙ X̂ + β — and, for the engine, the activation after it,
the running-statistics update and the dropout mask after that
(:func:`train_launch`); the backward likewise applies the dropout mask
and f' as it reads dY, sums, and writes dZ (:func:`backward_launch`).
Evaluation mode is elementwise (:func:`apply_launch`).

The ``…_launch`` functions return prepared launches (:class:`._launch.Launch`)
for the training engine; the wrappers with the CPU names only launch.
"""

import math

import numba
import numpy as np

from ..._cuda import cuda
from ..activations import IDENTITY
from ..norm import dropout_threshold
from . import activations as _act
from ._launch import (
    MAX_BLOCKS,
    THREADS,
    TILE,
    TILE_PAD,
    Launch,
    array_types,
    blocks_for,
    flat,
    float_type,
    kernel_set,
    optional,
    per_dtype,
)

__all__ = ["dropout_threshold", "keep_bits", "dropout_inplace", "column_moments",
           "normalize_inplace", "batch_norm_train", "batch_norm_eval", "update_running",
           "batch_norm_backward", "train_launch", "apply_launch", "backward_launch",
           "dropout_launch", "kernels", "signatures"]

# the CPU generator's constants (numbann.kernels.norm), as uint64
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S27, _S30, _S31, _S32 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(32)


@cuda.jit(device=True)
def _mix64(z):
    """SplitMix64's finaliser (uint64 → uint64), as on the CPU."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@cuda.jit(device=True)
def draw_key(seed, count):
    """The key of draw *count* of *seed* (integers ≥ 0)."""
    return _mix64(numba.uint64(seed) + numba.uint64(count) * _GOLDEN)


@cuda.jit(device=True)
def element_bits(key, index):
    """32 random bits (a uint64 < 2³²) of element *index* of the draw with *key*."""
    return _mix64(key + numba.uint64(index) * _GOLDEN) >> _S32


@cuda.jit(device=True)
def mask_of(seed, count, threshold):
    """(key, threshold as a uint64) of dropout draw *count* of *seed*."""
    return draw_key(seed, count), numba.uint64(threshold)


@cuda.jit(device=True)
def keep_bits(seed, count, index):
    """32 random bits (as a uint64 < 2³²) for element *index* of draw *count* of *seed*;
    equal to the CPU's ``numbann.kernels.norm.keep_bits``."""
    return element_bits(draw_key(seed, count), index)


@per_dtype
def device_functions(dtype):
    """Device functions for float *dtype*: ``dropped(v, key, index, threshold, scale)``
    (v·scale if element *index* is kept, else 0), ``column_sum(buf, v)`` (see the module
    docstring), ``grad_read(dY, A, i, j, c, act, drop, key, thr, scale)`` and
    ``running(j, μ, σ², rm, rv, factor, keep, correction)``."""
    zero = dtype.type(0)
    backward = _act.device_functions(dtype).backward

    @cuda.jit(device=True)
    def dropped(v, key, index, threshold, scale):
        return v * scale if element_bits(key, index) >= threshold else zero

    @cuda.jit(device=True)
    def column_sum(buf, v):
        """Σ over threadIdx.y of *v*, for each threadIdx.x (a block of TILE x TILE threads,
        every one of which must call it; all get their column's sum, in one order)."""
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        buf[ty, tx] = v
        cuda.syncthreads()
        s = zero
        for q in range(TILE):
            s += buf[q, tx]
        cuda.syncthreads()  # buf is written again by the next call
        return s

    @cuda.jit(device=True)
    def grad_read(dY, A, i, j, c, act, drop, key, thr, scale):
        """dY[i, j] through the dropout mask (with *drop*) and f' (from the output A)."""
        d = dY[i, j]
        if drop:
            d = dropped(d, key, i * c + j, thr, scale)
        if act != IDENTITY:
            d = backward(act, A[i, j], d)
        return d

    @cuda.jit(device=True)
    def running(j, mu, sigma2, rm, rv, factor, keep, correction):
        rm[j] = keep * rm[j] + factor * mu
        rv[j] = keep * rv[j] + factor * (sigma2 * correction)

    return kernel_set(dropped=dropped, column_sum=column_sum, grad_read=grad_read,
                      running=running)


@per_dtype
def kernels(dtype):
    """The batch-norm and dropout kernels for float *dtype*."""
    nb = float_type(dtype)
    one = dtype.type(1)
    zero = dtype.type(0)
    dev = device_functions(dtype)
    dropped, column_sum, running = dev.dropped, dev.column_sum, dev.running
    grad_read = dev.grad_read
    forward = _act.device_functions(dtype).forward

    @cuda.jit
    def dropout(Y, D, seed, threshold, scale, count):
        """D[e] = Y[e]·scale if keep_bits(seed, count, e) ≥ threshold, else 0 (1-D; D may
        be Y)."""
        key, thr = mask_of(seed, count, threshold)
        for e in range(cuda.grid(1), Y.size, cuda.gridsize(1)):
            D[e] = dropped(Y[e], key, e, thr, scale)

    @cuda.jit
    def norm_train(Z, gamma, beta, affine, eps, inv_n, mean, var, inv_std, xhat, normalize,
                   act, rm, rv, update, correction, D, drop, seed, threshold, scale, factor,
                   keep, count):
        """Per column j of Z (n, c): μ, σ² (biased) into mean, var; with *normalize*
        also 1/σ into inv_std, X̂ into xhat and Z ← f(γ X̂ + β) (f: the elementwise *act*);
        with *update* the running statistics; with *drop* D = dropout of Z."""
        buf = cuda.shared.array((TILE, TILE_PAD), nb)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        n, c = Z.shape
        key, thr = mask_of(seed, count, threshold)
        for c0 in range(cuda.blockIdx.x * TILE, c, cuda.gridDim.x * TILE):
            j = c0 + tx
            inside = j < c
            s = zero
            if inside:
                for i in range(ty, n, TILE):
                    s += Z[i, j]
            mu = column_sum(buf, s) * inv_n
            s = zero
            if inside:
                for i in range(ty, n, TILE):
                    d = Z[i, j] - mu
                    s += d * d
            sigma2 = column_sum(buf, s) * inv_n
            if inside:
                r = one / math.sqrt(sigma2 + eps)
                if ty == 0:
                    mean[j] = mu
                    var[j] = sigma2
                    if normalize:
                        inv_std[j] = r
                    if update:
                        running(j, mu, sigma2, rm, rv, factor, keep, correction)
                if normalize:
                    g = gamma[j] if affine else one
                    b = beta[j] if affine else zero
                    for i in range(ty, n, TILE):
                        h = (Z[i, j] - mu) * r
                        xhat[i, j] = h
                        z = forward(act, g * h + b if affine else h)
                        Z[i, j] = z
                        if drop:
                            D[i, j] = dropped(z, key, i * c + j, thr, scale)

    @cuda.jit
    def norm_apply(Z, gamma, beta, affine, shift, var, from_var, eps, inv_std, xhat, act, D,
                   drop, scale):
        """X̂ = (Z − shift) ⊙ r into xhat, Z ← f(γ X̂ + β), elementwise; r = 1/√(var + eps)
        (also written to inv_std) if *from_var*, else inv_std; with *drop* D = Z·scale."""
        n, c = Z.shape
        for e in range(cuda.grid(1), n * c, cuda.gridsize(1)):
            i = e // c
            j = e - i * c
            if from_var:
                r = one / math.sqrt(var[j] + eps)
                if i == 0:
                    inv_std[j] = r
            else:
                r = inv_std[j]
            h = (Z[i, j] - shift[j]) * r
            xhat[i, j] = h
            z = forward(act, gamma[j] * h + beta[j] if affine else h)
            Z[i, j] = z
            if drop:
                D[i, j] = z * scale

    @cuda.jit
    def norm_running(mean, var, rm, rv, factor, keep, correction):
        """running ← keep·running + factor·batch (the variance × correction), over (C,)."""
        for j in range(cuda.grid(1), rm.size, cuda.gridsize(1)):
            running(j, mean[j], var[j], rm, rv, factor, keep, correction)

    @cuda.jit
    def norm_backward(dY, xhat, inv_std, gamma, affine, dZ, dgamma, dbeta, batch_stats,
                      accumulate, inv_n, act, A, drop, seed, threshold, scale, count):
        """dZ from dY (dZ may be dY) per column, and dγ, dβ (added to if *accumulate*) if
        *affine*; the values read are d = f'(·)·(dropout of dY) — with *drop*, the mask
        of the forward, drawn again; f' from the forward output A."""
        buf = cuda.shared.array((TILE, TILE_PAD), nb)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        n, c = dY.shape
        key, thr = mask_of(seed, count, threshold)
        for c0 in range(cuda.blockIdx.x * TILE, c, cuda.gridDim.x * TILE):
            j = c0 + tx
            inside = j < c
            s_d = zero
            s_dx = zero
            if inside:
                for i in range(ty, n, TILE):
                    d = grad_read(dY, A, i, j, c, act, drop, key, thr, scale)
                    s_d += d
                    s_dx += d * xhat[i, j]
            s_d = column_sum(buf, s_d)
            s_dx = column_sum(buf, s_dx)
            if inside:
                g = gamma[j] if affine else one
                if affine and ty == 0:
                    dbeta[j] = s_d + dbeta[j] if accumulate else s_d
                    dgamma[j] = s_dx + dgamma[j] if accumulate else s_dx
                sum_g, sum_gx = g * s_d, g * s_dx
                r = inv_std[j]
                for i in range(ty, n, TILE):
                    d = g * grad_read(dY, A, i, j, c, act, drop, key, thr, scale)
                    if batch_stats:
                        dZ[i, j] = r * (d - inv_n * (sum_g + xhat[i, j] * sum_gx))
                    else:
                        dZ[i, j] = r * d

    return kernel_set(dropout=dropout, norm_train=norm_train, norm_apply=norm_apply,
                      norm_running=norm_running, norm_backward=norm_backward)


def signatures(dtype):
    """Kernel name → argument types, as the wrappers launch them (for the PTX test)."""
    v, m = array_types(dtype)
    i64, b, s = numba.int64, numba.boolean, float_type(dtype)
    return {
        "dropout": (v, v, i64, i64, s, i64),
        "norm_train": (m, v, v, b, s, s, v, v, v, m, b, i64, v, v, b, s, m, b, i64, i64, s,
                       s, s, i64),
        "norm_apply": (m, v, v, b, v, v, b, s, v, m, i64, m, b, s),
        "norm_running": (v, v, v, v, s, s, s),
        "norm_backward": (m, m, v, v, b, m, v, v, b, b, s, i64, m, b, i64, i64, s, i64),
    }


# --- prepared launches (the engine's) ----------------------------------------------------


def _columns_grid(c):
    """Blocks of a column launch: one per TILE columns, at most MAX_BLOCKS (grid-stride)."""
    return max(1, min(-(-c // TILE), MAX_BLOCKS))


def _drop_args(drop, dtype):
    """(D, used, seed, threshold, scale) of an optional dropout (D, seed, threshold, scale)."""
    D, seed, threshold, scale = drop if drop is not None else (None, 0, 0, 1.0)
    D, used = optional(D, dtype, 2)
    return D, used, int(seed), int(threshold), dtype.type(scale)


def train_launch(Z, gamma, beta, eps, mean, var, inv_std, xhat, act=IDENTITY, running=None,
                 drop=None, normalize=True, stream=0, pretyped=False):
    """The launch of training-mode batch normalization of Z (N, C) in place (see
    :func:`batch_norm_train`), or None for an empty Z; with *act* (an elementwise code)
    Z ← f(γ X̂ + β); with *running* = (running_mean, running_var, unbiased) the update
    of :func:`update_running`; with *drop* = (D, seed, threshold, scale) D = the dropout
    of Z. Its tail is (factor, 1 − factor, count) in Z's dtype (the last an int): the
    running update's weight and the dropout draw. Without *normalize*: μ and σ² only."""
    n, c = Z.shape
    if n == 0 or c == 0:
        return None
    dt = Z.dtype.type
    gamma, affine = optional(gamma, Z.dtype)
    beta = optional(beta, Z.dtype)[0]
    xhat = xhat if normalize else optional(None, Z.dtype, 2)[0]
    inv_std = inv_std if normalize else optional(None, Z.dtype)[0]
    rm, rv, unbiased = running if running is not None else (None, None, False)
    rm, update = optional(rm, Z.dtype)
    rv = optional(rv, Z.dtype)[0]
    correction = dt(n / (n - 1.0)) if unbiased and n > 1 else dt(1)
    args = (Z, gamma, beta, affine, dt(eps), dt(1.0 / n), mean, var, inv_std, xhat,
            bool(normalize), int(act), rm, rv, update, correction, *_drop_args(drop, Z.dtype))
    return Launch(kernels(Z.dtype).norm_train, _columns_grid(c), (TILE, TILE), args, stream,
                  tail=(dt(0), dt(1), 0), pretyped=pretyped)


def apply_launch(Z, gamma, beta, shift, var, eps, inv_std, xhat, act=IDENTITY, drop_scale=None,
                 D=None, stream=0, pretyped=False):
    """The launch of X̂ = (Z − shift) ⊙ r, Z ← f(γ X̂ + β) (see :func:`batch_norm_eval`),
    or None for an empty Z; r = 1/√(var + eps), written to inv_std, or (var None) read
    from inv_std; with *drop_scale*, D = Z·drop_scale (the textbook's evaluation-mode
    dropout)."""
    n, c = Z.shape
    if n == 0 or c == 0:
        return None
    dt = Z.dtype.type
    gamma, affine = optional(gamma, Z.dtype)
    beta = optional(beta, Z.dtype)[0]
    var, from_var = optional(var, Z.dtype)
    D, drop = optional(D if drop_scale is not None else None, Z.dtype, 2)
    args = (Z, gamma, beta, affine, shift, var, from_var, dt(eps), inv_std, xhat, int(act), D,
            drop, dt(1.0 if drop_scale is None else drop_scale))
    return Launch(kernels(Z.dtype).norm_apply, blocks_for(n * c), THREADS, args, stream,
                  pretyped=pretyped)


def backward_launch(dY, xhat, inv_std, gamma, dZ, dgamma, dbeta, batch_stats, accumulate,
                    act=IDENTITY, A=None, drop=None, stream=0, pretyped=False):
    """The launch of :func:`batch_norm_backward`, or None for an empty dY; the values it
    reads are f'(·)·dY (*act* an elementwise code, f' from the forward output A) after
    the dropout *drop* = (seed, threshold, scale) if given. Its tail is (count,), the
    dropout draw."""
    n, c = dY.shape
    if n == 0 or c == 0:
        return None
    dt = dY.dtype.type
    gamma, affine = optional(gamma, dY.dtype)
    dgamma = optional(dgamma, dY.dtype)[0]
    dbeta = optional(dbeta, dY.dtype)[0]
    A = optional(A if act != IDENTITY else None, dY.dtype, 2)[0]
    seed, threshold, scale = drop if drop is not None else (0, 0, 1.0)
    args = (dY, xhat, inv_std, gamma, affine, dZ, dgamma, dbeta, bool(batch_stats),
            bool(accumulate), dt(1.0 / n), int(act), A, drop is not None, int(seed),
            int(threshold), dt(scale))
    return Launch(kernels(dY.dtype).norm_backward, _columns_grid(c), (TILE, TILE), args,
                  stream, tail=(0,), pretyped=pretyped)


def dropout_launch(Y, D, seed, threshold, scale, stream=0, pretyped=False):
    """The launch of D = Y ⊙ mask · scale (see :func:`dropout_inplace`; D may be Y), or None
    for an empty Y; its tail is (count,), the draw."""
    if Y.size == 0:
        return None
    return Launch(kernels(Y.dtype).dropout, blocks_for(Y.size), THREADS,
                  (flat(Y), flat(D), int(seed), int(threshold), Y.dtype.type(scale)), stream,
                  tail=(0,), pretyped=pretyped)


# --- the wrappers with the CPU kernels' names and arguments (launch only) ----------------


def _run(launch, *tail):
    if launch is not None:
        launch(*tail)


def _check_threshold(threshold):
    if not 0 <= int(threshold) <= 2**32:
        raise ValueError(f"dropout threshold must be in [0, 2**32], got {threshold}")


def dropout_inplace(Y, seed, count, threshold, scale, stream=0):
    """Y ← Y ⊙ mask · scale (Y (N, C)); mask_e = [keep_bits(seed, count, e) ≥ threshold];
    seed, count ≥ 0. The same call is the backward pass (the mask is drawn again)."""
    if int(seed) < 0 or int(count) < 0:
        raise ValueError(f"dropout seed and count must be ≥ 0, got {seed}, {count}")
    _check_threshold(threshold)
    _run(dropout_launch(Y, Y, seed, threshold, scale, stream), int(count))


def column_moments(Z, mean, var, stream=0):
    """mean[j] = (1/N) Σ_i Z[i, j], var[j] = (1/N) Σ_i (Z[i, j] − mean[j])² (two passes)."""
    dt = Z.dtype.type
    _run(train_launch(Z, None, None, 1.0, mean, var, None, None, normalize=False,
                      stream=stream), dt(0), dt(1), 0)


def normalize_inplace(Z, gamma, beta, shift, inv_std, xhat, stream=0):
    """X̂ = (Z − shift) ⊙ inv_std into *xhat*; Z ← γ ⊙ X̂ + β (no γ, β when they are empty)."""
    _run(apply_launch(Z, gamma, beta, shift, None, 1.0, inv_std, xhat, stream=stream))


def batch_norm_train(Z, gamma, beta, eps, mean, var, inv_std, xhat, stream=0):
    """Training-mode batch normalization of Z (N, C) in place (Z ← γ ⊙ X̂ + β), keeping
    X̂ and r = 1/√(σ² + ε) for the backward and the batch mean and biased variance."""
    dt = Z.dtype.type
    _run(train_launch(Z, gamma, beta, eps, mean, var, inv_std, xhat, stream=stream), dt(0),
         dt(1), 0)


def batch_norm_eval(Z, gamma, beta, running_mean, running_var, eps, inv_std, xhat, stream=0):
    """Evaluation-mode batch normalization of Z (N, C) in place with the running statistics;
    keeps X̂ and r = 1/√(running_var + ε) for a backward."""
    _run(apply_launch(Z, gamma, beta, running_mean, running_var, eps, inv_std, xhat,
                      stream=stream))


def update_running(mean, var, n, running_mean, running_var, factor, unbiased, stream=0):
    """running ← (1 − factor)·running + factor·batch; the variance ×n/(n − 1) if unbiased."""
    if running_mean.size == 0:
        return
    dt = running_mean.dtype.type
    correction = dt(n / (n - 1.0)) if unbiased and n > 1 else dt(1)
    Launch(kernels(running_mean.dtype).norm_running, blocks_for(running_mean.size), THREADS,
           (mean, var, running_mean, running_var, dt(factor), dt(1.0 - factor), correction),
           stream)()


def batch_norm_backward(dY, xhat, inv_std, gamma, dZ, dgamma, dbeta, batch_stats, accumulate,
                        sums, stream=0):
    """dZ from dY (may be the same array) and the parameter gradients dγ, dβ (added to with
    *accumulate*; skipped when empty); *batch_stats*: the forward used the batch's
    statistics (training mode), else the running ones. *sums* ((2, C) scratch on the
    CPU) is not written: the sums stay in shared memory."""
    _run(backward_launch(dY, xhat, inv_std, gamma, dZ, dgamma, dbeta, batch_stats, accumulate,
                         stream=stream), 0)
