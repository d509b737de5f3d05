"""How :class:`~numbann.Trainer` runs batches: the compiled engine, or the object API.

A runner is given what it needs — the model, loss, optimizer, batch size and
the training data — and ``run(order, contiguous, lo, hi, losses, correct)``
trains on batches lo … hi − 1 of an epoch, writes each batch's loss and
correct count, and returns how many batches it completed (fewer when a loss
was not finite: the batch that diverged is not applied).
"""

import time

import numpy as np

from . import _fusion, _progress
from ._config import SPLIT
from .device import backend_of
from .kernels import engine as engine_k
from .kernels import engine_split as split_k
from .kernels import optim as optim_k
from .kernels._blas_threads import blas_controls, one_blas_thread
from .kernels.plan import work_layout


class TrainingData:
    """Validated inputs x (N, I) and dense targets t (N, C), on the host; ``on(backend)``
    gives (and keeps) copies on a device."""

    def __init__(self, model, loss_fn, x, t, name):
        x_arr, _ = model._input(x, host=True)
        self.x = x_arr
        n, c = x_arr.shape[0], model.out_features
        t_arr = np.asarray(backend_of(t).to_host(t))
        if t_arr.shape[:1] != (n,):
            raise ValueError(f"{name}: x has {n} samples but the targets have shape "
                             f"{t_arr.shape}")
        self.t = loss_fn.dense_targets(t_arr, n, c, model.dtype)
        self.n = n
        self._device = {}

    def on(self, backend):
        if backend.name not in self._device:
            self._device[backend.name] = (backend.from_host(self.x), backend.from_host(self.t))
        return self._device[backend.name]


class CompiledRunner:
    """Batches through the engine's ``train_steps`` (compiled on the CPU, a launch
    sequence on the GPU) on preallocated buffers of the model's device."""

    def __init__(self, model, loss_fn, optimizer, batch_size, data):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.batch_size = batch_size
        self.backend = bk = model.backend
        self.x, self.t = data.on(bk)
        self.plan = model.network_plan()
        self.workspace = engine_k.workspace(self.plan, batch_size, model.dtype, bk.empty)
        self.loss = loss_fn.spec(model.weight_decay_lambda)
        self.split = _split_workspace(model, self.plan, batch_size, optimizer)
        self._order = (None, None)

    def prepare(self, announce, evaluation=False):
        """Compile (or load from the JIT cache) what the engine runs for these argument
        types — and with *evaluation*, the evaluation — without training (the engine's
        ``prepare``), so that epoch times do not include it; returns its seconds. With
        *announce*, says so on stderr if it takes more than a moment (a cold compile
        takes tens of seconds, once per installation)."""
        start = time.perf_counter()
        with _progress.notice_if_slow(announce, _progress.COMPILE_NOTICE):
            self.run(np.zeros(1, np.int64), False, 0, 0, np.zeros(1), np.zeros(1, np.int64),
                     bool(evaluation))
        return time.perf_counter() - start

    def _device_order(self, order, contiguous):
        """The epoch's row order where the engine reads it (uploaded once per epoch)."""
        if contiguous or self.backend.name == "cpu":
            return order
        if self._order[0] is not order:
            self._order = (order, self.backend.from_host(order))
        return self._order[1]

    def run(self, order, contiguous, lo, hi, losses, correct, prepare_only=None):
        """Train on batches lo … hi − 1; with *prepare_only* (False or True: also for
        evaluation) compile what that would run instead, training nothing."""
        model, opt = self.model, self.optimizer
        opt.sync_state()
        batches = engine_k.Batches(self.x, self.t, self._device_order(order, contiguous),
                                   bool(contiguous), self.batch_size)
        net = engine_network(model, self.plan)
        state = engine_k.OptimizerState(opt.kernel_hyper(), opt.state_rows, opt.step_count)
        engine = self.backend.kernels.engine
        if prepare_only is not None:  # compile what will run: one engine, the evaluation
            if self.split is not None:
                split_k.train_steps_split(batches, 0, 0, net, self.loss, state, self.split,
                                          losses, correct)
                if prepare_only:
                    evaluate_rows(model, self.loss_fn, self.plan, self.x[:0], self.t[:0], 1)
            else:
                engine.prepare(batches, net, self.loss, state, self.workspace,
                               evaluation=prepare_only)
            return 0
        if self.split is not None and hi > lo:
            with one_blas_thread():
                done = split_k.train_steps_split(batches, lo, hi, net, self.loss, state,
                                                 self.split, losses, correct)
        else:
            done = engine.train_steps(batches, lo, hi, net, self.loss, state, self.workspace,
                                      losses, correct)
        opt.record_steps(done)
        _fusion.advance(model._groups, done)
        return done


class ObjectRunner:
    """Batches through the object API: zero_grad, forward, loss, backward, step."""

    def __init__(self, model, loss_fn, optimizer, batch_size, data):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.batch_size, self.data = batch_size, data

    def prepare(self, announce, evaluation=False):
        """Nothing to prepare: the object path's kernels compile on first use."""
        return None

    def run(self, order, contiguous, lo, hi, losses, correct):
        model, loss_fn, opt, bs = self.model, self.loss_fn, self.optimizer, self.batch_size
        for k in range(lo, hi):
            rows = order[k * bs:(k + 1) * bs]
            if contiguous:
                xb, tb = self.data.x[rows[0]:rows[-1] + 1], self.data.t[rows[0]:rows[-1] + 1]
            else:
                xb, tb = self.data.x[rows], self.data.t[rows]
            y = model(xb)
            loss = loss_fn(y, tb)
            losses[k] = loss + model.regularization_loss()
            correct[k] = engine_k.count_correct(model.backend.to_host(y), tb)
            if not np.isfinite(losses[k]):
                return k - lo
            opt.zero_grad()
            loss.backward()
            opt.step()
        return hi - lo


#: the fewest parameters for which batches too small to share still take the
#: data-parallel engine, for its update split between the threads (not for plain SGD,
#: which the serial engine fuses into the backward pass)
SPLIT_UPDATE_PARAMS = 1 << 16


def _split_workspace(model, plan, batch_size, optimizer):
    """Per-thread buffers for the data-parallel engine when it can run this, else None:
    on the CPU with two or more Numba threads, SciPy's OpenBLAS (to hold to one thread),
    independent rows (no batch norm, no dropout), and batches that give every thread
    split_k.MIN_ROWS rows or an update of at least SPLIT_UPDATE_PARAMS parameters by a
    rule other than plain SGD (the rows of such a batch then run on one thread, the
    update on all)."""
    import numba

    threads = numba.get_num_threads()
    n_params = model.flat_parameters.size
    shared_rows = batch_size >= threads * split_k.MIN_ROWS
    shared_update = (n_params >= SPLIT_UPDATE_PARAMS
                     and optim_k.plain_sgd_lr.py_func(optimizer.kernel_hyper()) < 0)
    if not (SPLIT and model.backend.name == "cpu" and threads > 1
            and (shared_rows or shared_update) and not plan["norm"].any()
            and not plan["drop"].any() and blas_controls() is not None):
        return None
    return split_k.split_workspace(plan, batch_size, threads, n_params, model.dtype)


def engine_network(model, plan):
    """The model's buffers, *plan* and counts as the engine takes them."""
    return engine_k.Network(model.flat_parameters, model.flat_gradients, plan,
                            model.flat_stats, _fusion.counts(model._groups))


def evaluate_rows(model, loss_fn, plan, x, t, batch_size):
    """(Σ row losses, correct rows) of x, t (on the model's device) by the compiled
    kernel in evaluation mode, in batches of *batch_size* rows."""
    bk = model.backend
    work = bk.empty(int(work_layout(plan, batch_size)[1]), model.dtype)
    return bk.kernels.engine.evaluate_rows(x, t, batch_size, engine_network(model, plan),
                                           loss_fn.code, work)
