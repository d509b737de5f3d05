"""One training step (forward, softmax-CE, backward, optimizer update) at batch 1, 32, 100, 128.

Both reference networks, the first *batch* MNIST training images. Before
timing, every implementation takes one step from the shared initial weights
and must land on the NumPy reference's loss and parameters; the timed calls
then keep stepping on the same batch.
"""

import numpy as np
import pytest
from harness import assert_loss_agree, assert_params_agree, measure
from reference_numpy import Trainer as NumpyTrainer
from workloads import TRAIN_NETS, initial_flat, step_flops
from yardstick import GemmWorkload

BATCHES = (1, 32, 100, 128)
#: the compiled engine runs this many steps per timed call (one nb.fit over as many
#: copies of the batch); its figures are per step: the call time divided by STEPS
STEPS = 200
IMPLS = ("numbann", "numbann-objects", "numpy", "torch", "jax", "yardstick")

_reference = {}


def reference(net, x, t):
    key = (net.key, x.shape[0])
    if key not in _reference:
        tr = NumpyTrainer(net, initial_flat(net))
        loss = float(tr.step(x, t))
        _reference[key] = (loss, tr.flat.copy())
    return _reference[key]


def make_step(impl, net, x, t, request):
    """(step function to time, loss of the first step, flat parameters after it)."""
    flat = initial_flat(net)
    if impl == "numpy":
        tr = NumpyTrainer(net, flat)
        loss = tr.step(x, t)
        return (lambda: tr.step(x, t)), float(loss), tr.flat.copy()
    if impl in ("numbann", "numbann-objects"):
        mod = request.getfixturevalue("engine") if impl == "numbann" else None
        import impl_numbann

        cls = mod.EngineTrainer if mod else impl_numbann.ObjectsTrainer
        tr = cls(net, flat)
        out = tr.step(x, t)
        if impl == "numbann-objects":
            return (lambda: tr.step(x, t)), out, tr.flat()
        after_one = tr.flat()
        xs, ts = np.tile(x, (STEPS, 1)), np.tile(t, STEPS)
        tr.steps(xs, ts, x.shape[0])  # the same call once more, untimed (warm-up)
        return (lambda: tr.steps(xs, ts, x.shape[0])), impl_numbann.history_last_loss(
            out), after_one
    if impl == "torch":
        pt = request.getfixturevalue("torch_peer")
        xt, tt = pt.tensor(x), pt.tensor(t)
        tr = pt.Trainer(net, flat)
        loss = float(tr.step(xt, tt))
        return (lambda: tr.step(xt, tt)), loss, tr.flat()
    if impl == "jax":
        pj = request.getfixturevalue("jax_peer")
        xj, tj = pj.array(x), pj.labels(t)
        tr = pj.Trainer(net, flat)
        loss = float(tr.step(xj, tj))
        return (lambda: tr.step(xj, tj)), loss, tr.flat()
    raise ValueError(impl)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("net", TRAIN_NETS, ids=lambda n: n.name)
@pytest.mark.parametrize("impl", IMPLS)
def test_step(benchmark, request, mnist_data, impl, net, batch):
    (x_train, t_train), _ = mnist_data
    x, t = x_train[:batch].copy(), t_train[:batch].copy()
    group = f"step {net.name} {net.act} {net.opt} batch {batch}"
    info = dict(shapes=list(net.sizes), batch=batch, flops=step_flops(net, batch),
                optimizer=net.opt, lr=net.lr)
    if impl == "yardstick":
        work = GemmWorkload(net, x, batch, backward=True)
        work.run()
        assert work.flops == step_flops(net, batch)
        measure(benchmark, work.run, group=group, impl=impl, workload="matrix products alone",
                **info)
        return
    fn, loss, flat = make_step(impl, net, x, t, request)
    ref_loss, ref_flat = reference(net, x, t)
    if loss is not None:
        assert_loss_agree(loss, ref_loss, f"{impl} {group}")
    assert_params_agree(flat, ref_flat, net, 1, f"{impl} {group}")
    api = {"numbann": f"nb.fit over {STEPS} copies of the batch (one compiled call), per step",
           "numbann-objects": "model(x), loss, backward, opt.step()"}.get(impl)
    if impl == "numbann":
        info.update(extrapolate=1.0 / STEPS, steps_per_call=STEPS)
    measure(benchmark, fn, group=group, impl=impl, api=api, **info)
