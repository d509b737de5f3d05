"""CUDA batch-norm and dropout kernels against the CPU kernels and the NumPy references.

Shapes: 7 rows (more than the 4 row lanes of a block, not a multiple) and 14
columns (4 column tiles of 4 on 3 blocks: a grid-stride step and a partial tile).
"""

import numpy as np
import pytest
import reference as ref
from simutil import DTYPES, close, dev, empty, host

from numbann._cuda import cuda
from numbann.kernels import activations as act
from numbann.kernels import norm as cpu
from numbann.kernels.cuda import norm as gpu

N, C = 7, 14


@cuda.jit
def _bits(seeds, counts, indices, out):
    for k in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[k] = gpu.keep_bits(seeds[k], counts[k], indices[k])


def test_keep_bits_equal_the_cpu_bit_for_bit(rng):
    seeds = np.array([0, 1, 12345, 2**31, 2**62 + 7, 2**63 - 1, 99, 5], np.int64)
    counts = np.array([0, 0, 3, 1, 2**40, 17, 2**63 - 1, 1], np.int64)
    indices = np.array([0, 1, 2**20, 5, 7, 2**45 + 3, 11, 2**62], np.int64)
    out = cuda.device_array(seeds.size, np.uint64)
    _bits[3, 8](dev(seeds), dev(counts), dev(indices), out)
    got = host(out)
    want = [ref.keep_bits(int(s), int(c), int(i)) for s, c, i in zip(seeds, counts, indices)]
    assert got.tolist() == want
    assert got.tolist() == [int(cpu.keep_bits(s, c, i)) for s, c, i in zip(seeds, counts, indices)]
    assert (got < 2**32).all() and len(set(want)) == len(want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_draws_the_cpu_mask(p, dtype, rng):
    y = rng.standard_normal((N, C)).astype(dtype)
    seed, count, thr = 2**62 + 11, 5, cpu.dropout_threshold(p)
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    want = y.copy()
    cpu.dropout_inplace(want, seed, count, thr, scale)
    g = dev(y)
    gpu.dropout_inplace(g, seed, count, thr, scale)
    np.testing.assert_array_equal(host(g), want)  # one rounding per element, on both
    mask = ref.dropout_mask(seed, count, y.shape, p)
    np.testing.assert_array_equal(host(g) != 0, mask & (y != 0))
    if p == 0.3:
        assert 0 < mask.sum() < mask.size


def test_dropout_refuses_what_the_generator_does_not_take():
    g = dev(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="seed and count"):
        gpu.dropout_inplace(g, -1, 0, 0, 1.0)
    with pytest.raises(ValueError, match="threshold"):
        gpu.dropout_inplace(g, 1, 0, 2**32 + 1, 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_column_moments(dtype, rng):
    z = (rng.standard_normal((N, C)) * 3 + 1).astype(dtype)
    mean, var = empty(C, dtype), empty(C, dtype)
    gpu.column_moments(dev(z), mean, var)
    m_cpu, v_cpu = np.empty(C, dtype), np.empty(C, dtype)
    cpu.column_moments(z, m_cpu, v_cpu)
    close(host(mean), m_cpu, dtype, scale=4)
    close(host(var), v_cpu, dtype, scale=4)
    close(host(var), z.astype(np.float64).var(axis=0), dtype, scale=4)


def _stats(dtype):
    return [empty(C, dtype) for _ in range(3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm_train_matches_cpu_and_the_book(affine, dtype, rng):
    z = (rng.standard_normal((N, C)) * 2 - 1).astype(dtype)
    gamma = (rng.standard_normal(C) if affine else np.empty(0)).astype(dtype)
    beta = (rng.standard_normal(C) if affine else np.empty(0)).astype(dtype)
    want, xhat, st = z.copy(), np.empty_like(z), np.empty((3, C), dtype)
    cpu.batch_norm_train(want, gamma, beta, 1e-5, st[0], st[1], st[2], xhat)
    g, gx, gst = dev(z), empty(z.shape, dtype), _stats(dtype)
    gpu.batch_norm_train(g, dev(gamma), dev(beta), 1e-5, *gst, gx)
    close(host(g), want, dtype, scale=10)
    close(host(gx), xhat, dtype, scale=10)
    for k in range(3):
        close(host(gst[k]), st[k], dtype, scale=10)
    book = ref.BookBatchNormalization(gamma if affine else 1.0, beta if affine else 0.0)
    close(host(g), book.forward(z.astype(np.float64)), np.float32)  # ε 10e-7 vs 1e-5: ~1e-6


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_eval_and_normalize_inplace(dtype, rng):
    z = rng.standard_normal((N, C)).astype(dtype)
    gamma, beta = rng.standard_normal((2, C)).astype(dtype)
    rm, rv = rng.standard_normal(C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype)
    want, xhat, r = z.copy(), np.empty_like(z), np.empty(C, dtype)
    cpu.batch_norm_eval(want, gamma, beta, rm, rv, 1e-5, r, xhat)
    g, gx, gr = dev(z), empty(z.shape, dtype), empty(C, dtype)
    gpu.batch_norm_eval(g, dev(gamma), dev(beta), dev(rm), dev(rv), 1e-5, gr, gx)
    close(host(g), want, dtype)
    close(host(gx), xhat, dtype)
    close(host(gr), r, dtype)
    g2, gx2 = dev(z), empty(z.shape, dtype)
    gpu.normalize_inplace(g2, dev(np.empty(0, dtype)), dev(np.empty(0, dtype)), dev(rm),
                          dev(r), gx2)
    close(host(g2), (z - rm) * r, dtype)
    close(host(gx2), host(g2), dtype)


@pytest.mark.parametrize("unbiased", [True, False])
def test_update_running(unbiased, rng):
    dtype = np.float32
    mean, var, rm, rv = rng.uniform(0.1, 2, (4, C)).astype(dtype)
    want_m, want_v = rm.copy(), rv.copy()
    cpu.update_running(mean, var, N, want_m, want_v, 0.1, unbiased)
    gm, gv = dev(rm), dev(rv)
    gpu.update_running(dev(mean), dev(var), N, gm, gv, 0.1, unbiased)
    close(host(gm), want_m, dtype)
    close(host(gv), want_v, dtype)
    corr = N / (N - 1) if unbiased else 1.0
    close(host(gv), 0.9 * rv + 0.1 * var * corr, dtype)


def _backward_inputs(dtype, rng, affine):
    z = rng.standard_normal((N, C)).astype(dtype)
    gamma = (rng.standard_normal(C) if affine else np.empty(0)).astype(dtype)
    beta = (rng.standard_normal(C) if affine else np.empty(0)).astype(dtype)
    xhat, st = np.empty_like(z), np.empty((3, C), dtype)
    cpu.batch_norm_train(z.copy(), gamma, beta, 1e-5, st[0], st[1], st[2], xhat)
    return gamma, xhat, st, rng.standard_normal((N, C)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_stats", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine,in_place,accumulate", [(True, False, False),
                                                        (True, True, True),
                                                        (False, True, False)],
                         ids=["affine", "affine-inplace-accumulate", "plain-inplace"])
def test_batch_norm_backward_matches_cpu(affine, in_place, accumulate, batch_stats, dtype, rng):
    gamma, xhat, st, dy = _backward_inputs(dtype, rng, affine)
    dgamma0 = (rng.standard_normal(C) if affine else np.empty(0)).astype(dtype)
    dbeta0 = (rng.standard_normal(C) if affine else np.empty(0)).astype(dtype)
    dz, dgamma, dbeta = np.empty_like(dy), dgamma0.copy(), dbeta0.copy()
    cpu.batch_norm_backward(dy, xhat, st[2], gamma, dz, dgamma, dbeta, batch_stats, accumulate,
                            np.empty((2, C), dtype))
    gdy = dev(dy)
    gdz = gdy if in_place else empty(dy.shape, dtype)
    gdg, gdb = dev(dgamma0), dev(dbeta0)
    gpu.batch_norm_backward(gdy, dev(xhat), dev(st[2]), dev(gamma), gdz, gdg, gdb, batch_stats,
                            accumulate, empty((2, C), dtype))
    close(host(gdz), dz, dtype, scale=10)
    close(host(gdg), dgamma, dtype, scale=10)
    close(host(gdb), dbeta, dtype, scale=10)
    if affine and batch_stats and not accumulate:  # the textbook's chain-rule backward
        book = ref.BookBatchNormalization(gamma.astype(np.float64), 0.0)
        z = xhat.astype(np.float64) / st[2] + st[0]
        book.forward(z)
        book.std = 1.0 / st[2].astype(np.float64)  # ε 1e-5 here, the book's 10e-7
        np.testing.assert_allclose(host(gdz), book.backward(dy.astype(np.float64)), rtol=1e-3,
                                   atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_engine_s_fused_launches_equal_the_cpu_steps(dtype, rng):
    """Forward: batch norm, ReLU, the running update and dropout in one launch; backward:
    the mask, f' and the batch-norm backward in one — as the CPU engine's steps."""
    z = (rng.standard_normal((N, C)) * 2).astype(dtype)
    gamma, beta, rm = rng.standard_normal((3, C)).astype(dtype)
    rv = rng.uniform(0.5, 2, C).astype(dtype)
    seed, count, thr, scale, factor = 77, 3, cpu.dropout_threshold(0.25), 1 / 0.75, 0.2
    # CPU: the steps of numbann.kernels.engine.layer_forward / layer_backward
    a, xhat, st = z.copy(), np.empty_like(z), np.empty((3, C), dtype)
    c_rm, c_rv = rm.copy(), rv.copy()
    cpu.batch_norm_train(a, gamma, beta, 1e-5, st[0], st[1], st[2], xhat)
    cpu.update_running(st[0], st[1], N, c_rm, c_rv, factor, True)
    act.apply_inplace(act.RELU, a)
    d = a.copy()
    cpu.dropout_inplace(d, seed, count, thr, scale)
    da = rng.standard_normal((N, C)).astype(dtype)
    dz, dgamma, dbeta = da.copy(), np.empty(C, dtype), np.empty(C, dtype)
    cpu.dropout_inplace(dz, seed, count, thr, scale)
    act.backward_inplace(act.RELU, a, dz)
    cpu.batch_norm_backward(dz, xhat, st[2], gamma, dz, dgamma, dbeta, True, False,
                            np.empty((2, C), dtype))
    # GPU
    ga, gx, gst, gd = dev(z), empty(z.shape, dtype), _stats(dtype), empty(z.shape, dtype)
    g_rm, g_rv = dev(rm), dev(rv)
    gg = dev(gamma)
    fwd = gpu.train_launch(ga, gg, dev(beta), 1e-5, *gst, gx, act.RELU, (g_rm, g_rv, True),
                           (gd, seed, thr, scale))
    fwd(dtype(factor), dtype(1 - factor), count)
    for got, want in ((ga, a), (gx, xhat), (gd, d), (g_rm, c_rm), (g_rv, c_rv)):
        close(host(got), want, dtype, scale=10)
    assert (host(gd) == 0).sum() == (d == 0).sum()
    gdz, gdg, gdb = dev(da), empty(C, dtype), empty(C, dtype)
    bwd = gpu.backward_launch(gdz, gx, gst[2], gg, gdz, gdg, gdb, True, False, act.RELU, ga,
                              (seed, thr, scale))
    bwd(count)
    for got, want in ((gdz, dz), (gdg, dgamma), (gdb, dbeta)):
        close(host(got), want, dtype, scale=10)
