"""Every implementation's training runs, built and checked the same way for every group.

* :func:`make_run` — a run over many batches: the epoch groups
  (test_bench_epoch.py) and the decayed-state group (test_bench_decay.py)
  time the same thing at different sizes. Each implementation trains *net*
  from the shared initial weights through a sequence of mini-batches of
  (x, t), after it has trained ``check`` batches in file order (the agreement
  check against :func:`reference_after`; for JAX and numbann also the
  compile warm-up).
* :func:`make_step` — one step on one batch, repeated: the step groups
  (test_bench_step.py) and the per-step overhead group
  (test_bench_overhead.py), checked against :func:`step_reference` by
  :func:`checked_step`.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import reference_numpy
from reference_numpy import Trainer as NumpyTrainer
from workloads import initial_flat

#: steps per timed call of the compiled forms (numbann's engine, JAX's lax.scan)
STEPS = 200
#: … in the quick (untimed) run
QUICK_STEPS = 3
#: the implementations that run many steps per call
MULTI_STEP = ("numbann", "jax")

_step_reference = {}


def step_reference(net, x, t):
    """(loss, flat parameters) of the NumPy reference after one step on (x, t) from the
    initial weights (computed once per network and batch)."""
    key = (net, x.tobytes(), t.tobytes())
    if key not in _step_reference:
        tr = NumpyTrainer(net, initial_flat(net))
        loss = float(tr.step(x, t))
        _step_reference[key] = (loss, tr.flat.copy())
    return _step_reference[key]


def checked_step(impl, net, x, t, request, what, backward=None, steps=STEPS):
    """:func:`make_step` with the agreement check: the first step's loss and parameters
    must be the NumPy reference's. Returns (function to time, api, what measure needs
    to report a multi-step call per step)."""
    from harness import assert_loss_agree, assert_params_agree

    fn, loss, flat, api = make_step(impl, net, x, t, request, backward, steps)
    ref_loss, ref_flat = step_reference(net, x, t)
    if loss is not None:
        assert_loss_agree(loss, ref_loss, what)
    assert_params_agree(flat, ref_flat, net, 1, what)
    per_step = dict(extrapolate=1.0 / steps, steps_per_call=steps) if impl in MULTI_STEP else {}
    return fn, api, per_step


def make_step(impl, net, x, t, request, backward=None, steps=STEPS):
    """(function to time, loss of the first step or None, flat parameters after it, api)
    for one training step of *impl* on the batch (x, t), repeated by every call; the
    forms in :data:`MULTI_STEP` run *steps* steps per call. *backward*: the object API's
    form (impl_numbann.ObjectsTrainer)."""
    flat = initial_flat(net)
    xs, ts = np.tile(x, (steps, 1)), np.tile(t, steps)
    n = x.shape[0]
    if impl == "numpy":
        tr = NumpyTrainer(net, flat)
        loss = tr.step(x, t)
        return (lambda: tr.step(x, t)), float(loss), tr.flat.copy(), reference_numpy.API
    if impl == "numbann-objects":
        import impl_numbann

        tr = impl_numbann.ObjectsTrainer(net, flat, backward)
        loss = tr.step(x, t)
        return (lambda: tr.step(x, t)), float(loss), tr.flat(), tr.api
    if impl == "numbann":
        import impl_numbann

        tr = request.getfixturevalue("engine").EngineTrainer(net, flat)
        out = tr.step(x, t)
        after_one = tr.flat()
        tr.steps(xs, ts, n)  # the timed call once, untimed (warm-up)
        return ((lambda: tr.steps(xs, ts, n)), impl_numbann.history_last_loss(out), after_one,
                f"{tr.api} over {steps} copies of the batch in one call, per step")
    if impl == "torch":
        pt = request.getfixturevalue("torch_peer")
        xt, tt = pt.tensor(x), pt.tensor(t)
        tr = pt.Trainer(net, flat)
        loss = float(tr.step(xt, tt))
        return (lambda: tr.step(xt, tt)), loss, tr.flat(), pt.API
    if impl in ("jax", "jax-step"):
        pj = request.getfixturevalue("jax_peer")
        xj, tj = pj.array(x), pj.labels(t)
        tr = pj.Trainer(net, flat)
        loss = float(tr.step(xj, tj))
        after_one = tr.flat()
        if impl == "jax-step":
            return (lambda: tr.step(xj, tj)), loss, after_one, pj.STEP_API
        xsj, tsj, order = pj.array(xs), pj.labels(ts), pj.labels(np.arange(steps * n))
        tr.epoch(xsj, tsj, order, n)  # compile the scan (untimed)
        return ((lambda: tr.epoch(xsj, tsj, order, n)), loss, after_one,
                f"{pj.SCAN_API} over {steps} copies of the batch, per step")
    raise ValueError(impl)

#: how a step-by-step form's api ends: it steps through the batches in Python
LOOP = ", a Python loop over the batches"

_reference = {}


def reference_after(net, x, t, batches):
    """The NumPy reference's flat parameters after *batches* batches of (x, t) in file
    order from the initial weights (computed once per network, data and count)."""
    key = (net, id(x), batches)
    if key not in _reference:
        n = batches * net.batch
        tr = NumpyTrainer(net, initial_flat(net))
        tr.epoch(x[:n], t[:n], np.arange(n), net.batch)
        _reference[key] = (x, tr.flat.copy())  # x kept alive: its id stays its own
    return _reference[key][1]


class Run(NamedTuple):
    """A training run of one implementation, ready to time (:func:`make_run`)."""

    fn: Callable  # one pass over the batches; returns the last loss
    checked: np.ndarray  # flat parameters after the check batches
    api: str  # what fn calls


def make_run(impl, net, x, t, order, request, check):
    """The :class:`Run` of *impl*: ``run.fn()`` trains once over x[order] in batches of
    ``net.batch`` (the last one may be partial), carrying on from the *check* batches
    already trained; ``run.checked`` holds the flat parameters after those.

    *order* None means file order; a permutation is used by every implementation but
    numbann's engine, which draws its own from seed 0 (the same work).
    """
    import harness

    n_check = check * net.batch
    check_order = np.arange(n_check)
    shuffle = order is not None
    if order is None:
        order = np.arange(x.shape[0])
    flat = initial_flat(net)
    if impl == "numpy":
        tr = NumpyTrainer(net, flat)
        tr.epoch(x, t, check_order, net.batch)
        return Run(lambda: tr.epoch(x, t, order, net.batch), tr.flat.copy(),
                   f"{reference_numpy.API}{LOOP}")
    if impl == "numbann-objects":
        import impl_numbann

        tr = impl_numbann.ObjectsTrainer(net, flat)
        tr.epoch(x, t, check_order, net.batch)
        return Run(lambda: tr.epoch(x, t, order, net.batch), tr.flat(), f"{tr.api}{LOOP}")
    if impl == "numbann":
        eng = request.getfixturevalue("engine")
        tr = eng.EngineTrainer(net, flat)
        tr.epoch_fit(x[:n_check], t[:n_check], shuffle=False)
        return Run(lambda: tr.epoch_fit(x, t, shuffle=shuffle, seed=0), tr.flat(),
                   f"{tr.api}, one call")
    if impl == "torch":
        pt = request.getfixturevalue("torch_peer")
        xt, tt = pt.tensor(x), pt.tensor(t)
        ot, ct = pt.tensor(order), pt.tensor(check_order)
        tr = pt.Trainer(net, flat)
        tr.epoch(xt, tt, ct, net.batch)
        return Run(lambda: tr.epoch(xt, tt, ot, net.batch), tr.flat(), f"{pt.API}{LOOP}")
    if impl in ("jax", "jax-step"):
        pj = request.getfixturevalue("jax_peer")
        xj, tj = pj.array(x), pj.labels(t)
        tr = pj.Trainer(net, flat)
        if impl == "jax":
            tr.epoch(xj, tj, pj.labels(check_order), net.batch)
            oj = pj.labels(order)
            return Run(lambda: tr.epoch(xj, tj, oj, net.batch), tr.flat(),
                       f"{pj.SCAN_API} over all the batches")
        tr.step_loop(xj, tj, tr.batch_indices(check_order, net.batch))
        batches = tr.batch_indices(order, net.batch)
        return Run(lambda: tr.step_loop(xj, tj, batches), tr.flat(), f"{pj.STEP_API}{LOOP}")
    raise ValueError(f"no training run for {impl!r} (known: {', '.join(harness.IMPLS)})")
