"""The numerical gradient of the whole 784-50-10 network at batch 100.

numbann: ``model.numerical_gradient(x, t, loss_fn)`` — the central difference
(L(w + h) − L(w − h)) / 2h for all 39,760 parameters, float64, compiled and
parallel, recomputing only what each perturbation changes.

numpy: the textbook's loop (``numerical_gradient`` over ``np.nditer``, two
full forward passes per parameter, float64 like numbann's). It needs minutes
for all parameters, so it is timed on a fixed, evenly spread subset of
``SUBSET`` parameters and the result is extrapolated to all of them (× P /
SUBSET); ``extra_info['extrapolate']`` holds that factor and RESULTS.md marks
the row. Both must agree on the subset before timing.
"""

import numpy as np
import pytest
from harness import measure
from reference_numpy import NumGradNet
from workloads import NET_A, initial_flat

IMPLS = ("numbann", "numpy")
BATCH = 100
SUBSET, QUICK_SUBSET = 400, 8


def subset(n_params, k):
    return np.unique(np.linspace(0, n_params - 1, k).round().astype(np.int64))


@pytest.mark.parametrize("impl", IMPLS)
def test_numerical_gradient(benchmark, request, mnist_data, quick, impl):
    (x_train, t_train), _ = mnist_data
    x, t = x_train[:BATCH].copy(), t_train[:BATCH].copy()
    net = NET_A
    flat = initial_flat(net)
    P = net.n_params
    idx = subset(P, QUICK_SUBSET if quick else SUBSET)
    group = f"numerical gradient {net.name} {net.act} batch {BATCH} ({P} parameters)"
    ref = NumGradNet(net, flat)
    # the reference on a few parameters, for the agreement check
    check_idx = idx[:: max(1, len(idx) // 8)]
    expected = ref.numerical_gradient(x, t, check_idx)[check_idx]
    info = dict(shapes=list(net.sizes), batch=BATCH, params=P, h=1e-4,
                numeric_dtype="float64")
    if impl == "numbann":
        import impl_numbann

        import numbann as nb

        model = impl_numbann.build_model(net, flat)
        loss_fn = nb.CrossEntropyLoss()

        def fn():
            grads = model.numerical_gradient(x, t, loss_fn)
            return np.concatenate([g.reshape(-1) for g in grads.values()])

        got = fn()  # compile (or load from cache) before timing
        np.testing.assert_allclose(got[check_idx], expected, rtol=1e-4, atol=1e-7)
        measure(benchmark, fn, group=group, impl=impl, rounds="auto",
                api="model.numerical_gradient(x, t, loss_fn)", **info)
    else:
        def fn():
            return ref.numerical_gradient(x, t, idx)

        got = fn()
        np.testing.assert_allclose(got[check_idx], expected, rtol=1e-12, atol=1e-15)
        info.update(subset=int(len(idx)), extrapolate=P / len(idx),
                    note=f"timed on {len(idx)} of {P} parameters, extrapolated x{P / len(idx):.1f}")
        measure(benchmark, fn, group=group, impl=impl, rounds="auto",
                api="the textbook's numerical_gradient loop (chapter 4) in NumPy", **info)
