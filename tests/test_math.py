"""numbann.kernels._math: the vectorisable float32 exp and tanh against NumPy's float64."""

import numpy as np
import pytest

from numbann._config import jit
from numbann.kernels._math import exp, tanh


@jit
def _exp_inplace(y):
    for i in range(y.size):
        y[i] = exp(y[i])


@jit
def _tanh_inplace(y):
    for i in range(y.size):
        y[i] = tanh(y[i])


_KERNELS = {"exp": (_exp_inplace, np.exp), "tanh": (_tanh_inplace, np.tanh)}


def _ulps(got, want):
    """|got − want| in units of the last place of float32 at want (want in float64)."""
    want32 = want.astype(np.float32)
    spacing = np.spacing(np.abs(want32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / spacing


@pytest.mark.parametrize("name", sorted(_KERNELS))
def test_float32_within_two_ulp_of_the_float64_reference(name):
    kernel, reference = _KERNELS[name]
    x = np.linspace(-87.0, 88.0, 200_003, dtype=np.float32)
    if name == "tanh":
        x = np.concatenate([x / 8, np.linspace(-1, 1, 20_001, dtype=np.float32)])
    y = x.copy()
    kernel(y)  # in place, as the activations run (the loaded value is overwritten)
    want = reference(x.astype(np.float64))
    normal = np.abs(want) >= np.finfo(np.float32).tiny
    assert _ulps(y[normal], want[normal]).max() <= 2.0


@pytest.mark.parametrize("name", sorted(_KERNELS))
def test_special_values(name):
    kernel, reference = _KERNELS[name]
    x = np.array([np.nan, -np.inf, np.inf, -100.0, 100.0, 0.0, -0.0, -87.5, 88.8],
                 np.float32)
    # more than a vector's width of them, so the SIMD loop runs on them too
    y = np.tile(x, 5)
    kernel(y)
    with np.errstate(over="ignore"):
        want = np.tile(reference(x.astype(np.float64)), 5).astype(np.float32)
    # results below float32's smallest normal number are flushed to zero, as numbann's
    # compiled code flushes subnormals (FTZ)
    want[np.abs(want) < np.finfo(np.float32).tiny] = 0.0
    assert np.isnan(y[::x.size]).all()  # NaN in, NaN out
    finite = ~np.isnan(want)
    np.testing.assert_allclose(y[finite], want[finite], rtol=3e-7, atol=0.0)
