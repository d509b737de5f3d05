"""Batch-1 Adam on 784-256-128-10 once its optimizer state has decayed into subnormal floats.

Wherever a gradient stays zero for a while — the weights fed by MNIST's
always-black border pixels, or by pixels that few digits ink — Adam's
moments decay geometrically, m by 0.9 a step, and sink below float32's
smallest normal number (1.18e-38). There ``0.9·m`` rounds back to m at the
smallest subnormals, so they stay; on Intel cores every arithmetic operation
on a subnormal takes a microcode assist of about a hundred cycles (issue
12).

Each implementation trains 784-256-128-10 ReLU, Adam lr 1e-3, at batch 1
over the first ``STEPS`` MNIST training images in file order — all of them
in one timed call (numbann: one ``nb.fit``; JAX: one ``lax.scan``, or a loop
of jitted steps; the others: a Python loop of steps) — and again over the
same images in every round, the state carrying on. An untimed warm-up call
comes first, so every timed round starts from a state that has decayed for
``STEPS`` steps or more. Figures are per step (the call time / ``STEPS``);
the yardstick is the same steps' matrix products alone.

How each library treats subnormals is part of what it gives its users and is
what this group measures: XLA flushes them to zero on the CPU by default,
PyTorch keeps them unless ``torch.set_flush_denormal(True)``, NumPy keeps
them.

Checks before timing, as in the epoch groups: every implementation's first
``CHECK`` steps land on the NumPy reference's parameters. And the workload
does what it is for (:func:`test_the_workload_decays_into_subnormals`, a
plain test of the regular run): after ``DECAY_CHECK_STEPS`` steps the NumPy
reference's Adam moments hold at least ``MIN_SUBNORMAL`` subnormal numbers
(measured: about 11,000 after 1,000 steps and 30,000 after 2,000, of 235,146
parameters). The quick (untimed) run of the benchmark trains ``QUICK_STEPS``
steps.
"""

from dataclasses import replace

import numpy as np
import pytest
from harness import IMPLS, assert_params_agree, measure
from reference_numpy import Trainer as NumpyTrainer
from runners import make_run, reference_after
from workloads import NET_B, initial_flat, step_flops
from yardstick import API as YARDSTICK_API
from yardstick import GemmWorkload

STEPS, QUICK_STEPS = 2000, 50
CHECK = 10
DECAY_CHECK_STEPS, MIN_SUBNORMAL = 1000, 1000
EVAL_IMAGES = 500
NET = replace(NET_B, key="B1", batch=1)


def subnormal_count(arrays):
    """How many entries of *arrays* are subnormal (nonzero, below the smallest normal)."""
    tiny = np.finfo(np.float32).tiny
    return sum(int(np.count_nonzero((a != 0) & (np.abs(a) < tiny))) for a in arrays)


def test_the_workload_decays_into_subnormals(mnist_data):
    (x_train, t_train), _ = mnist_data
    n = DECAY_CHECK_STEPS
    tr = NumpyTrainer(NET, initial_flat(NET))
    tr.epoch(x_train[:n], t_train[:n], np.arange(n), 1)
    found = subnormal_count([*tr.optimizer.m.values(), *tr.optimizer.v.values()])
    assert found >= MIN_SUBNORMAL, (
        f"only {found} subnormal Adam moments after {n} steps: the workload does not reach "
        "the decayed state it is meant to time")
    assert np.all(np.isfinite(tr.flat))


@pytest.mark.parametrize("impl", IMPLS)
def test_decayed_adam_step(benchmark, request, mnist_data, quick, impl):
    (x_train, t_train), _ = mnist_data
    steps = QUICK_STEPS if quick else STEPS
    x, t = x_train[:steps], t_train[:steps]
    group = f"decayed step {NET.name} {NET.act} {NET.opt} batch 1, {STEPS} steps per call"
    info = dict(shapes=list(NET.sizes), batch=1, images=steps, optimizer=NET.opt, lr=NET.lr,
                flops=step_flops(NET, 1), extrapolate=1.0 / steps,
                steps_per_call=steps)
    if impl == "yardstick":
        work = GemmWorkload(NET, x, 1, backward=True)
        work.run()
        measure(benchmark, work.run, group=group, impl=impl, api=YARDSTICK_API,
                rounds="auto", **info)
        return
    run = make_run(impl, NET, x, t, None, request, CHECK)
    assert_params_agree(run.checked, reference_after(NET, x_train, t_train, CHECK), NET, CHECK,
                        f"{impl} {group} after {CHECK} steps",
                        eval_data=(x_train[-EVAL_IMAGES:], t_train[-EVAL_IMAGES:]))
    if benchmark.enabled:
        run.fn()  # warm-up: the state decays for STEPS steps before the first timed call
    measure(benchmark, run.fn, group=group, impl=impl, api=run.api, rounds="auto", **info)
