"""CUDA loss kernels (per-row losses + gradients) against the CPU kernels and the reference."""

import numpy as np
import pytest
import reference as ref
from simutil import DTYPES, close, dev, empty, host, loss_scale

from numbann.kernels import losses as cpu
from numbann.kernels.cuda import losses as gpu

N, C = 7, 9  # 7 rows over 3 blocks, 9 columns over 4 row threads
CODES = {"softmax_ce": cpu.SOFTMAX_CE, "squared_error": cpu.SQUARED_ERROR,
         "bce_logits": cpu.BCE_LOGITS, "cross_entropy": cpu.CROSS_ENTROPY}


def _inputs(code, rng, dtype, n=N, c=C):
    Y = (rng.standard_normal((n, c)) * 3).astype(dtype)
    if code == cpu.CROSS_ENTROPY:  # probabilities
        Y = ref.activation("softmax", Y).astype(dtype)
    t = rng.integers(0, c, n)
    T = rng.random((n, c)).astype(dtype)
    if code in (cpu.SOFTMAX_CE, cpu.CROSS_ENTROPY):
        T[:3] /= T[:3].sum(axis=1, keepdims=True)  # some rows distributions, some not (Σt ≠ 1)
    return Y, t, T


def _gpu_loss(kind, code, Y, target, scale, need_grad, dY=None):
    dtype = Y.dtype
    rows = empty(Y.shape[0], dtype)
    gdY = empty(Y.shape, dtype) if dY is None else dY
    fn = gpu.loss_labels if kind == "labels" else gpu.loss_dense
    fn(code, dev(Y) if isinstance(Y, np.ndarray) else Y, dev(target), scale, gdY, need_grad, rows)
    return rows, gdY


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["labels", "dense"])
@pytest.mark.parametrize("name", list(CODES))
def test_loss_and_gradient_match_cpu(name, kind, dtype, rng):
    code = CODES[name]
    Y, t, T = _inputs(code, rng, dtype)
    target = t if kind == "labels" else T
    scale = loss_scale(code, N, C, 0.5)
    dY = np.empty_like(Y)
    fn = cpu.loss_labels if kind == "labels" else cpu.loss_dense
    value = fn(code, Y, target, scale, dY, True)

    rows, gdY = _gpu_loss(kind, code, Y, target, scale, True)
    close(host(gdY), dY, dtype)
    rel = 1e-5 if dtype == np.float32 else 1e-12
    assert gpu.loss_total(rows, scale) == pytest.approx(value, rel=rel)
    # per-row values are the CPU row_loss
    expected_rows = [cpu.row_loss(code, Y[i], np.eye(C, dtype=dtype)[t[i]] if kind == "labels"
                                  else T[i], scale, np.empty(C, dtype), False) for i in range(N)]
    close(host(rows), expected_rows, dtype, scale=10)

    # without need_grad the gradient array is not touched
    sentinel = dev(np.full((N, C), 3.0, dtype))
    rows2, _ = _gpu_loss(kind, code, Y, target, scale, False, dY=sentinel)
    np.testing.assert_array_equal(host(rows2), host(rows))
    assert np.all(host(sentinel) == 3.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_ce_matches_reference(dtype, rng):
    Y, t, T = _inputs(cpu.SOFTMAX_CE, rng, dtype)
    for target in (t, T):
        kind = "labels" if target.ndim == 1 else "dense"
        loss, grad = ref.softmax_cross_entropy(Y, target)
        rows, gdY = _gpu_loss(kind, cpu.SOFTMAX_CE, Y, target, 1 / N, True)
        rel = 2e-5 if dtype == np.float32 else 1e-12
        assert gpu.loss_total(rows, 1 / N) == pytest.approx(loss, rel=rel)
        close(host(gdY), grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_other_losses_match_reference(dtype, rng):
    n, c = N, C
    Y, t, T = _inputs(cpu.BCE_LOGITS, rng, dtype)
    cases = [(cpu.BCE_LOGITS, ref.bce_with_logits(Y, T), 1 / (n * c), Y),
             (cpu.SQUARED_ERROR, ref.squared_error(Y, T, 0.5), 0.5, Y)]
    P = ref.activation("softmax", Y).astype(dtype)
    cases.append((cpu.CROSS_ENTROPY, ref.cross_entropy_error(P, T), 1 / n, P))
    for code, (loss, grad), scale, inp in cases:
        rows, gdY = _gpu_loss("dense", code, inp, T, scale, True)
        rel = 1e-4 if dtype == np.float32 else 1e-10
        assert gpu.loss_total(rows, scale) == pytest.approx(loss, rel=rel)
        close(host(gdY), grad, dtype, scale=10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_logits_stay_finite(dtype, rng):
    Y = np.array([[1e4, -1e4, 0, 5], [-3e4, -3e4, -3e4, -3e4], [80, 90, 100, 1e4]], dtype)
    t = np.array([1, 2, 0])
    T = np.eye(4, dtype=dtype)[t]
    for code in (cpu.SOFTMAX_CE, cpu.BCE_LOGITS):
        dY = np.empty_like(Y)
        value = cpu.loss_labels(code, Y, t, 1 / 3, dY, True)
        for kind, target in (("labels", t), ("dense", T)):
            rows, gdY = _gpu_loss(kind, code, Y, target, 1 / 3, True)
            g = host(gdY)
            assert np.all(np.isfinite(g)) and np.all(np.isfinite(host(rows)))
            close(g, dY, dtype)
            assert gpu.loss_total(rows, 1 / 3) == pytest.approx(value, rel=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_in_place_over_the_logits(dtype, rng):
    Y, t, _ = _inputs(cpu.SOFTMAX_CE, rng, dtype)
    dY = np.empty_like(Y)
    cpu.loss_labels(cpu.SOFTMAX_CE, Y, t, 1 / N, dY, True)
    g = dev(Y)
    rows = empty(N, dtype)
    gpu.loss_labels(cpu.SOFTMAX_CE, g, dev(t), 1 / N, g, True, rows)
    close(host(g), dY, dtype)


def test_int32_labels_work(rng):
    Y, t, _ = _inputs(cpu.SOFTMAX_CE, rng, np.float32)
    rows64, g64 = _gpu_loss("labels", cpu.SOFTMAX_CE, Y, t, 1 / N, True)
    rows32, g32 = _gpu_loss("labels", cpu.SOFTMAX_CE, Y, t.astype(np.int32), 1 / N, True)
    np.testing.assert_array_equal(host(rows32), host(rows64))
    np.testing.assert_array_equal(host(g32), host(g64))


def test_hits_and_a_gradient_over_the_logits_are_refused(rng):
    Y, t, _ = _inputs(cpu.SOFTMAX_CE, rng, np.float32)
    g = dev(Y)
    with pytest.raises(ValueError, match="dY cannot be Y"):
        gpu.loss_labels(cpu.SOFTMAX_CE, g, dev(t), 1 / N, g, True, empty(N, np.float32),
                        hits=dev(np.zeros(N, np.int32)))
