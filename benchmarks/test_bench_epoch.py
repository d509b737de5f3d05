"""One epoch of MNIST training for the two reference networks.

784-50-10 sigmoid, SGD lr 0.1, batch 100 (the textbook's TwoLayerNet recipe)
and 784-256-128-10 ReLU, Adam lr 1e-3, batch 128: all 60,000 training
images, a shuffled order (the same permutation for every implementation
that takes one; numbann's engine draws its own from seed 0, the same work),
each batch gathered from the full arrays, the last partial batch included.
JAX twice: a whole epoch under one jitted ``lax.scan`` ("jax") and a loop of
jitted steps ("jax-step").

Before timing, every implementation trains ten batches in file order from
the shared initial weights and must land on the NumPy reference's
parameters (the agreement check; for JAX and numbann also the compile
warm-up; see runners.py). In the quick (untimed) run the check takes four
batches and the epoch is cut to the first ``QUICK_IMAGES`` images.
"""

import pytest
from harness import IMPLS, assert_params_agree, measure
from runners import make_run, reference_after
from workloads import EPOCH_NETS, epoch_flops, epoch_order
from yardstick import API as YARDSTICK_API
from yardstick import GemmWorkload

CHECK_BATCHES, QUICK_CHECK_BATCHES = 10, 4
QUICK_IMAGES = 640
EVAL_IMAGES = 500


@pytest.mark.parametrize("net", EPOCH_NETS, ids=lambda n: n.name)
@pytest.mark.parametrize("impl", IMPLS)
def test_epoch(benchmark, request, mnist_data, quick, impl, net):
    (x_train, t_train), _ = mnist_data
    n = QUICK_IMAGES if quick else x_train.shape[0]
    x, t = x_train[:n], t_train[:n]
    group = f"epoch {net.label}"
    info = dict(shapes=list(net.sizes), batch=net.batch, images=n, optimizer=net.opt,
                lr=net.lr, flops=epoch_flops(net, n), steps=-(-n // net.batch))
    if impl == "yardstick":
        work = GemmWorkload(net, x, net.batch, backward=True)
        work.run()
        measure(benchmark, work.run, group=group, impl=impl, api=YARDSTICK_API,
                rounds="auto", **info)
        return
    batches = QUICK_CHECK_BATCHES if quick else CHECK_BATCHES
    run = make_run(impl, net, x, t, epoch_order(n), request, batches)
    assert_params_agree(run.checked, reference_after(net, x_train, t_train, batches), net,
                        batches, f"{impl} {group} after {batches} batches",
                        eval_data=(x_train[-EVAL_IMAGES:], t_train[-EVAL_IMAGES:]))
    if benchmark.enabled:
        run.fn()  # warm-up at the full size (JAX compiles a new scan length)
    measure(benchmark, run.fn, group=group, impl=impl, api=run.api, rounds="auto", **info)
