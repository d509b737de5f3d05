"""The object path's per-step overhead: one batch-1 step of the 64-32-16-10 tutorial network.

Issue 13's PyTorch-style loop trains 64-32-16-10 ReLU with SGD lr 0.01 on
the 8x8 digits. At batch 1 its arithmetic is about 3,000 multiply-adds, so a
step through the object API — ``zero_grad``, ``model(x)``, the loss, the
backward pass, ``opt.step()`` — costs what the object layer costs per step:
validation, dispatch, the tape. Issue 13 puts it at about 33 µs before tapes
and lets tapes add at most 10%. A saved run is the baseline; compare a later
one on the same machine with::

    python -m pytest benchmarks --benchmark-enable --benchmark-only -k overhead \\
        --benchmark-compare --benchmark-compare-fail=median:10%

Rows: ``numbann-objects`` in the form numbann's docs teach (``loss.backward()``
where the loss value has it, else the textbook's
``model.backward(loss_fn.backward())``) and, once both exist, the textbook
form beside it; the compiled engine (``nb.fit`` over ``runners.STEPS``
copies of the batch in one call, per step) and JAX's ``lax.scan`` for what
one compiled call saves; NumPy's textbook layers, PyTorch's eager step and
JAX's jitted step for the same overhead elsewhere. No yardstick: at this
size a matrix product costs its call, not its arithmetic. The batch is a
seeded random image (the values do not matter here); every
implementation's first step must land on the NumPy reference's loss and
parameters.
"""

import pytest
from harness import IMPLS, measure
from runners import QUICK_STEPS, STEPS, checked_step
from workloads import NET_TINY, step_flops, synthetic_batch

PARAMS = [pytest.param(impl, None, id=impl) for impl in IMPLS if impl != "yardstick"] + [
    pytest.param("numbann-objects", "textbook", id="numbann-objects-textbook")]


@pytest.mark.parametrize(("impl", "form"), PARAMS)
def test_step_overhead(benchmark, request, quick, impl, form):
    net = NET_TINY
    x, t = synthetic_batch(net, 1)
    group = f"overhead: one step of {net.name} {net.act} {net.opt} at batch 1"
    info = dict(shapes=list(net.sizes), batch=1, flops=step_flops(net, 1), optimizer=net.opt,
                lr=net.lr)
    if form == "textbook":
        import impl_numbann

        if not impl_numbann.has_tape():
            pytest.skip("the textbook form is the object API's only one until loss.backward() "
                        "exists (issue 13): see the numbann-objects row")
    fn, api, per_step = checked_step(impl, net, x, t, request, f"{impl} {group}", form,
                                       QUICK_STEPS if quick else STEPS)
    measure(benchmark, fn, group=group, impl=impl, api=api, form=form, **per_step, **info)
