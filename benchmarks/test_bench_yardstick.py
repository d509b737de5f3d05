"""The machine's peak float32 GEMM rate, and a check that the yardstick does the right products.

"peak sgemm": one square float32 product of side ``PEAK_N`` (2·n³ flops).
The "yardstick" entry goes through Numba's ``np.dot`` — SciPy's OpenBLAS,
the BLAS numbann's compiled code calls — and its rate is the peak that
RESULTS.md quotes; NumPy's own OpenBLAS, PyTorch (MKL) and JAX (XLA:CPU) are
timed on the same product for comparison.
"""

import numpy as np
import pytest
from harness import measure
from workloads import NET_B, initial_flat
from yardstick import API as YARDSTICK_API
from yardstick import GemmWorkload, peak_sgemm_arrays, sgemm

PEAK_N, QUICK_N = 2048, 128
IMPLS = ("yardstick", "numpy", "torch", "jax")
API = {"yardstick": YARDSTICK_API, "numpy": "np.dot(a, b, out=c): NumPy's own OpenBLAS",
       "torch": "torch.mm(a, b, out=c)", "jax": "jax.jit(jnp.dot)"}


@pytest.mark.parametrize("impl", IMPLS)
def test_peak_sgemm(benchmark, request, quick, impl):
    n = QUICK_N if quick else PEAK_N
    a, b, c = peak_sgemm_arrays(n)
    group = f"peak sgemm {n}x{n}x{n}"
    if impl == "yardstick":
        def fn():
            sgemm(a, b, c)
            return c
    elif impl == "numpy":
        def fn():
            return np.dot(a, b, out=c)
    elif impl == "torch":
        pt = request.getfixturevalue("torch_peer")
        ta, tb, tc = pt.tensor(a), pt.tensor(b), pt.tensor(c.copy())

        def fn():
            pt.sgemm(ta, tb, tc)
            return tc
    else:
        pj = request.getfixturevalue("jax_peer")
        ja, jb = pj.array(a), pj.array(b)

        def fn():
            return pj.sgemm(ja, jb).block_until_ready()
    got = np.asarray(fn())
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-3, atol=1e-2 * np.sqrt(n))
    measure(benchmark, fn, group=group, impl=impl, api=API[impl], flops=2 * n ** 3, n=n,
            workload="one square float32 matrix product")


def test_yardstick_products_are_the_workloads():
    """gemm_pass computes the forward chain X @ W1 @ W2 @ W3 of the real shapes (the
    backward products are checked by shape through the same code path)."""
    rng = np.random.default_rng(0)
    x = rng.random((300, 784), dtype=np.float32)
    work = GemmWorkload(NET_B, x, 128, backward=False)
    work.run()
    # the last batch has 300 − 256 = 44 rows; its outputs sit at the start of each block
    flat = initial_flat(NET_B)
    h = x[256:].astype(np.float64)
    off = 0
    outs = []
    for a, b in NET_B.layer_shapes:
        w = flat[off:off + a * b].reshape(a, b)
        off += (a + 1) * b
        h = h @ w
        outs.append(h)
    m = 44
    start = 0
    for (_, b), want in zip(NET_B.layer_shapes, outs):
        got = work.acts[start:start + m * b].reshape(m, b)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        start += m * b
    back = GemmWorkload(NET_B, x, 128, backward=True)
    back.run()
    assert np.all(np.isfinite(back.grads)) and np.any(back.grads != 0)
    assert np.all(np.isfinite(back.deltas))
