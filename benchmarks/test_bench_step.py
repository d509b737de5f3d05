"""One training step (forward, softmax-CE, backward, optimizer update) at batch 1, 32, 100, 128.

Both reference networks, the first *batch* MNIST training images. Before
timing, every implementation takes one step from the shared initial weights
and must land on the NumPy reference's loss and parameters; the timed calls
then keep stepping on the same batch.

The compiled forms run ``STEPS`` steps per timed call — numbann's engine one
``nb.fit`` over as many copies of the batch, JAX one jitted ``lax.scan`` over
them — and their figures are per step (the call time divided by STEPS); the
step-by-step forms (numbann's object API, NumPy, PyTorch, JAX's jitted step)
are timed one step per call. The quick (untimed) run takes ``QUICK_STEPS``.
"""

import pytest
from harness import IMPLS, measure
from runners import QUICK_STEPS, STEPS, checked_step
from workloads import TRAIN_NETS, step_flops
from yardstick import API as YARDSTICK_API
from yardstick import GemmWorkload

BATCHES = (1, 32, 100, 128)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("net", TRAIN_NETS, ids=lambda n: n.name)
@pytest.mark.parametrize("impl", IMPLS)
def test_step(benchmark, request, mnist_data, quick, impl, net, batch):
    (x_train, t_train), _ = mnist_data
    x, t = x_train[:batch].copy(), t_train[:batch].copy()
    group = f"step {net.name} {net.act} {net.opt} batch {batch}"
    info = dict(shapes=list(net.sizes), batch=batch, flops=step_flops(net, batch),
                optimizer=net.opt, lr=net.lr)
    if impl == "yardstick":
        work = GemmWorkload(net, x, batch, backward=True)
        work.run()
        assert work.flops == step_flops(net, batch)
        measure(benchmark, work.run, group=group, impl=impl, api=YARDSTICK_API, **info)
        return
    fn, api, per_step = checked_step(impl, net, x, t, request, f"{impl} {group}",
                                       steps=QUICK_STEPS if quick else STEPS)
    measure(benchmark, fn, group=group, impl=impl, api=api, **per_step, **info)
