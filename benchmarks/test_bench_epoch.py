"""One epoch of MNIST training for the two reference networks.

784-50-10 sigmoid, SGD lr 0.1, batch 100 (the textbook's TwoLayerNet recipe)
and 784-256-128-10 ReLU, Adam lr 1e-3, batch 128: all 60,000 training
images, a shuffled order (the same permutation for every implementation
that takes one; numbann's engine draws its own from seed 0, the same work),
each batch gathered from the full arrays, the last partial batch included.

Before timing, every implementation trains ten batches in file order from
the shared initial weights and must land on the NumPy reference's
parameters (the agreement check; for JAX and numbann also the compile
warm-up). In the quick (untimed) run the check takes four batches and the
epoch is cut to the first ``QUICK_IMAGES`` images.
"""

import numpy as np
import pytest
from harness import assert_params_agree, measure
from reference_numpy import Trainer as NumpyTrainer
from workloads import TRAIN_NETS, epoch_flops, epoch_order, initial_flat
from yardstick import GemmWorkload

IMPLS = ("numbann", "numbann-objects", "numpy", "torch", "jax", "yardstick")
CHECK_BATCHES, QUICK_CHECK_BATCHES = 10, 4
QUICK_IMAGES = 640
EVAL_IMAGES = 500

_reference = {}


def reference_after_check(net, x, t, batches):
    if (net.key, batches) not in _reference:
        n = batches * net.batch
        tr = NumpyTrainer(net, initial_flat(net))
        tr.epoch(x[:n], t[:n], np.arange(n), net.batch)
        _reference[net.key, batches] = tr.flat.copy()
    return _reference[net.key, batches]


def make_epoch(impl, net, x, t, order, request, batches):
    """(one-epoch function to time, flat parameters after *batches* check batches)."""
    n_check = batches * net.batch
    check_order = np.arange(n_check)
    flat = initial_flat(net)
    if impl == "numpy":
        tr = NumpyTrainer(net, flat)
        tr.epoch(x, t, check_order, net.batch)
        return (lambda: tr.epoch(x, t, order, net.batch)), tr.flat.copy()
    if impl == "numbann-objects":
        import impl_numbann

        tr = impl_numbann.ObjectsTrainer(net, flat)
        tr.epoch(x, t, check_order, net.batch)
        return (lambda: tr.epoch(x, t, order, net.batch)), tr.flat()
    if impl == "numbann":
        eng = request.getfixturevalue("engine")
        tr = eng.EngineTrainer(net, flat)
        tr.epoch_fit(x[:n_check], t[:n_check], shuffle=False)
        checked = tr.flat()
        return (lambda: tr.epoch_fit(x, t, shuffle=True, seed=0)), checked
    if impl == "torch":
        pt = request.getfixturevalue("torch_peer")
        xt, tt = pt.tensor(x), pt.tensor(t)
        ot, ct = pt.tensor(order), pt.tensor(check_order)
        tr = pt.Trainer(net, flat)
        tr.epoch(xt, tt, ct, net.batch)
        return (lambda: tr.epoch(xt, tt, ot, net.batch)), tr.flat()
    if impl == "jax":
        pj = request.getfixturevalue("jax_peer")
        xj, tj = pj.array(x), pj.labels(t)
        oj, cj = pj.labels(order), pj.labels(check_order)
        tr = pj.Trainer(net, flat)
        tr.epoch(xj, tj, cj, net.batch)
        return (lambda: tr.epoch(xj, tj, oj, net.batch)), tr.flat()
    raise ValueError(impl)


@pytest.mark.parametrize("net", TRAIN_NETS, ids=lambda n: n.name)
@pytest.mark.parametrize("impl", IMPLS)
def test_epoch(benchmark, request, mnist_data, quick, impl, net):
    (x_train, t_train), _ = mnist_data
    n = QUICK_IMAGES if quick else x_train.shape[0]
    x, t = x_train[:n], t_train[:n]
    order = epoch_order(n)
    group = f"epoch {net.label}"
    info = dict(shapes=list(net.sizes), batch=net.batch, images=n, optimizer=net.opt,
                lr=net.lr, flops=epoch_flops(net, n), steps=-(-n // net.batch))
    if impl == "yardstick":
        work = GemmWorkload(net, x, net.batch, backward=True)
        work.run()
        measure(benchmark, work.run, group=group, impl=impl, rounds="auto",
                workload="matrix products alone", **info)
        return
    batches = QUICK_CHECK_BATCHES if quick else CHECK_BATCHES
    fn, checked = make_epoch(impl, net, x, t, order, request, batches)
    assert_params_agree(checked, reference_after_check(net, x_train, t_train, batches), net,
                        batches, f"{impl} {group} after {batches} batches",
                        eval_data=(x_train[-EVAL_IMAGES:], t_train[-EVAL_IMAGES:]))
    if benchmark.enabled:
        fn()  # warm-up at the full size (JAX compiles a new scan length)
    api = {"numbann": "nb.fit, one epoch", "numbann-objects": "step-by-step loop"}.get(impl)
    measure(benchmark, fn, group=group, impl=impl, rounds="auto", api=api, **info)
