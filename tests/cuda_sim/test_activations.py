"""CUDA activation kernels against the CPU kernels and the NumPy reference."""

import numpy as np
import pytest
import reference as ref
from simutil import DTYPES, close, dev, empty, host

from numbann.kernels import activations as cpu
from numbann.kernels.cuda import activations as gpu

ACTS = list(cpu.CODES)


def _cpu_forward(code, x):
    y = np.empty_like(x)
    cpu.activation_forward(code, x, y)
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTS)
def test_forward_backward_match_cpu_out_of_place_and_in_place(name, dtype, rng):
    code = cpu.CODES[name]
    x = (rng.standard_normal((7, 5)) * 3).astype(dtype)  # 35 elements > 3 blocks x 8 threads
    y = _cpu_forward(code, x)
    dy = rng.standard_normal(x.shape).astype(dtype)
    dx = np.empty_like(x)
    cpu.activation_backward(code, y, dy, dx)

    gy = empty(x.shape, dtype)
    gpu.activation_forward(code, dev(x), gy)
    close(host(gy), y, dtype)
    close(host(gy), ref.activation(name, x), dtype)
    g_inplace = dev(x)
    gpu.apply_inplace(code, g_inplace)
    close(host(g_inplace), y, dtype)

    gdx = empty(x.shape, dtype)
    gpu.activation_backward(code, dev(y), dev(dy), gdx)
    close(host(gdx), dx, dtype)
    g_dy = dev(dy)
    gpu.backward_inplace(code, dev(y), g_dy)
    close(host(g_dy), dx, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_inputs_stay_finite_and_exact(dtype):
    big = np.finfo(dtype).max / 4
    x = np.array([[-1000, 1000, -big, big, 0, -1e-30],
                  [88.7, -88.7, 709, -709, 50, -50]], dtype=dtype)
    for name in ("sigmoid", "tanh", "relu", "step", "softmax"):
        gy = empty(x.shape, dtype)
        gpu.activation_forward(cpu.CODES[name], dev(x), gy)
        y = host(gy)
        assert np.all(np.isfinite(y)), (name, y)
        close(y, _cpu_forward(cpu.CODES[name], x), dtype)
    gy = empty(x.shape, dtype)
    gpu.activation_forward(cpu.SIGMOID, dev(x), gy)
    assert host(gy)[0, :4].tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_rows_with_huge_logits(dtype):
    x = np.array([[1e30, 0.0, -1e30], [3e4, 3e4, -3e4], [-5e4, -5e4 - 1, -5e4 - 2]], dtype)
    y = dev(x)
    gpu.softmax_inplace(y)
    y = host(y)
    assert np.all(np.isfinite(y))
    close(y.sum(axis=1), np.ones(3), dtype)
    close(y, _cpu_forward(cpu.SOFTMAX, x), dtype)
    out = empty(x.shape, dtype)
    gpu.softmax_rows(dev(x), out)
    close(host(out), y, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_over_many_rows_and_wide_rows(dtype, rng):
    # 11 rows over 3 blocks (grid-stride over rows), 13 columns over 4 row threads
    x = (rng.standard_normal((11, 13)) * 5).astype(dtype)
    y = dev(x)
    gpu.softmax_inplace(y)
    close(host(y), ref.activation("softmax", x), dtype)


def test_identity_in_place_launches_nothing_and_keeps_values(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    g = dev(x)
    gpu.apply_inplace(cpu.IDENTITY, g)
    gpu.backward_inplace(cpu.IDENTITY, dev(x), g)
    np.testing.assert_array_equal(host(g), x)


def test_unsupported_dtype_is_refused():
    with pytest.raises(TypeError, match="float32 or float64"):
        gpu.kernels(np.int32)
