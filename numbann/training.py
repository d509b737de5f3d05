"""Mini-batch training: ``fit``, ``evaluate``, the Trainer behind them, History, callbacks.

``fit`` runs each epoch as one compiled call (:mod:`numbann.kernels.engine`)
when the model is a chain of Linear(+activation) layers, the loss and the
optimizer are supported and the optimizer covers the model's whole flat
buffer; otherwise it steps through the object API batch by batch. Both
paths give the same parameters for the same seed.
"""

import math
import sys
import threading
import time
from pathlib import Path

import numpy as np

from .kernels import engine as engine_k
from .kernels.plan import work_offsets
from .losses import Loss
from .optim import Optimizer
from .sequential import Sequential

__all__ = ["fit", "evaluate", "Trainer", "History", "Callback", "EarlyStopping",
           "ModelCheckpoint", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite. ``history`` holds everything up to there;
    the model keeps the last parameters that were finite."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class History:
    """What happened during :func:`fit`.

    ``history``: per-epoch lists ``loss`` and ``accuracy`` (means over the
    epoch's batches, as Keras reports them), ``val_loss`` and ``val_accuracy``
    (NaN in epochs that were not evaluated) and ``epoch_time`` (seconds);
    ``train_loss_list``: every iteration's loss, as the textbook's loop
    records it; ``params``: the settings of the run, and ``params["jit_time"]``:
    the seconds the compiled engine took to compile (or load from the JIT cache)
    before the first epoch — not part of any ``epoch_time`` (None on the object
    path).
    """

    def __init__(self, params):
        self.params = dict(params)
        self.epoch = []
        self.history = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy",
                                        "epoch_time")}
        self.train_loss_list = []

    def __repr__(self):
        last = {k: vals[-1] for k, vals in self.history.items() if vals}
        return f"History(epochs={len(self.epoch)}, last={last})"


class Callback:
    """Base class; ``trainer.stop_training = True`` ends training after this epoch."""

    def on_train_begin(self, trainer):
        """Called once before the first epoch."""

    def on_epoch_end(self, trainer, epoch, logs):
        """Called after each epoch with its logs (loss, accuracy, val_loss, …)."""

    def on_train_end(self, trainer):
        """Called once at the end, also after an early stop."""


def _monitor_mode(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


def _monitored(logs, monitor):
    value = logs.get(monitor)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


class EarlyStopping(Callback):
    """Stop when *monitor* has not improved by more than *min_delta* for *patience* epochs.

    With ``restore_best_weights`` the model gets back the parameters of the best
    epoch when training ends.
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False):
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.mode = _monitor_mode(monitor, mode)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, trainer):
        self.best, self.best_epoch, self.wait, self.stopped_epoch = None, None, 0, None
        self.best_weights = None

    def _improved(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer, epoch, logs):
        value = _monitored(logs, self.monitor)
        if value is None:
            return
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = _parameters_copy(trainer.model)
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = epoch
                trainer.stop_training = True

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None:
            _set_parameters(trainer.model, self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (atomically, see :func:`numbann.save`) after each epoch.

    *path* may contain ``{epoch}`` and log names (``{val_loss:.4f}``). With
    ``save_best_only`` a file is written only when *monitor* improves.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto",
                 save_optimizer=False):
        self.path = str(path)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _monitor_mode(monitor, mode)
        self.save_optimizer = save_optimizer
        self.best = None
        self.saved = []

    def on_epoch_end(self, trainer, epoch, logs):
        from .serialization import save

        if self.save_best_only:
            value = _monitored(logs, self.monitor)
            if value is None:
                return
            better = self.best is None or (value < self.best if self.mode == "min"
                                           else value > self.best)
            if not better:
                return
            self.best = value
        path = Path(self.path.format(epoch=epoch + 1, **logs))
        save(trainer.model, path, optimizer=trainer.optimizer if self.save_optimizer else None)
        self.saved.append(path)


def _parameters_copy(model):
    """The model's flat parameters as a new host array (from either device)."""
    return np.array(model.backend.to_host(model.flat_parameters))


def _set_parameters(model, values):
    """Write host *values* into the model's flat parameters (on either device)."""
    model.backend.assign(model.flat_parameters, values)


class _FunctionCallback(Callback):
    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, trainer, epoch, logs):
        self.fn(epoch, logs)


def _as_callback(cb):
    if isinstance(cb, Callback):
        return cb
    if callable(cb):
        return _FunctionCallback(cb)
    raise TypeError(f"callbacks must be Callback objects or callables, got {type(cb).__name__}")


def _positive_int(value, name):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class _Data:
    """Validated inputs x (N, I) and dense targets t (N, C), on the host; ``on(backend)``
    gives (and keeps) copies on a device."""

    def __init__(self, model, loss_fn, x, t, name):
        x_arr, _ = model._input(x, host=True)
        self.x = x_arr
        n, c = x_arr.shape[0], model.out_features
        t_arr = np.asarray(model.backend.to_host(t))
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


class Trainer:
    """Runs :func:`fit`; keeps ``model``, ``loss_fn``, ``optimizer``, ``history`` and
    ``engine`` ('compiled' or 'objects'). See :func:`fit` for the arguments.
    ``announce_compile`` (default: ``verbose > 0``) says on stderr when the
    engine's first compile keeps the run waiting."""

    def __init__(self, model, loss_fn, optimizer, *, batch_size=100, shuffle=True, seed=None,
                 verbose=1, callbacks=(), eval_every=1, sampling="permutation",
                 steps_per_epoch=None, engine="auto"):
        if not isinstance(model, Sequential):
            raise TypeError(f"model must be a numbann Sequential, got {type(model).__name__}")
        if not isinstance(loss_fn, Loss):
            raise TypeError(f"loss_fn must be a numbann loss, got {type(loss_fn).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a numbann optimizer, got "
                            f"{type(optimizer).__name__}")
        if sampling not in ("permutation", "replacement"):
            raise ValueError(f"sampling must be 'permutation' or 'replacement', got {sampling!r}")
        if steps_per_epoch is not None and sampling != "replacement":
            raise ValueError("steps_per_epoch goes with sampling='replacement'")
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        if engine not in ("auto", "compiled", "objects"):
            raise ValueError(f"engine must be 'auto', 'compiled' or 'objects', got {engine!r}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.rng = np.random.default_rng(seed)
        self.verbose = verbose
        self.callbacks = [_as_callback(cb) for cb in callbacks]
        self.eval_every = _positive_int(eval_every, "eval_every")
        self.sampling = sampling
        self.steps_per_epoch = (None if steps_per_epoch is None
                                else _positive_int(steps_per_epoch, "steps_per_epoch"))
        reason = self.compiled_engine_unavailable()
        if engine == "compiled" and reason:
            raise ValueError(f"the compiled engine cannot run this: {reason}")
        self.engine = "objects" if (engine == "objects" or reason) else "compiled"
        self.announce_compile = verbose > 0
        self.stop_training = False
        self.history = None

    def compiled_engine_unavailable(self):
        """Why the compiled engine cannot run this model/loss/optimizer, or None."""
        if self.model.network_plan() is None:
            return "the model is not a chain of Linear layers each followed by at most one " \
                   "activation"
        if self.optimizer.HYPER not in self.model.backend.kernels.optim.UPDATES:
            return f"{type(self.optimizer).__name__} has no compiled update"
        if self.optimizer._flat_buffer() is not self.model._buffer:
            return "the optimizer does not cover exactly the model's parameters"
        if self.model.device == "cuda" and self.model.weight_decay_lambda:
            return "the GPU engine has no L2 penalty (weight_decay_lambda)"
        return None

    # --- the loop -----------------------------------------------------------------

    def fit(self, x, t, *, epochs, validation_data=None, validation_split=0.0):
        """Train on x (N, in_features) and t (labels (N,) or targets (N, C)) for *epochs*
        epochs; returns the :class:`History` (also kept as ``self.history``)."""
        epochs = _positive_int(epochs, "epochs")
        x, t, validation_data = self._split(x, t, validation_data, validation_split)
        train = _Data(self.model, self.loss_fn, x, t, "training data")
        val = None
        if validation_data is not None:
            if len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, t_val)")
            val = _Data(self.model, self.loss_fn, *validation_data, "validation data")
        n_batches = self._batches_per_epoch(train.n)
        self.history = History(dict(
            epochs=epochs, batch_size=self.batch_size, steps=n_batches, samples=train.n,
            validation_samples=val.n if val else 0, engine=self.engine, device=self.model.device,
            sampling=self.sampling, shuffle=self.shuffle, optimizer=repr(self.optimizer),
            loss=repr(self.loss_fn)))
        runner = _CompiledRunner(self, train) if self.engine == "compiled" else \
            _ObjectRunner(self, train)
        self.history.params["jit_time"] = runner.prepare(self.announce_compile,
                                                         evaluation=val is not None)
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            for epoch in range(epochs):
                self._epoch(runner, epoch, epochs, n_batches, train, val)
                if self.stop_training:
                    break
        finally:
            for cb in self.callbacks:
                cb.on_train_end(self)
        return self.history

    def _split(self, x, t, validation_data, validation_split):
        split = float(validation_split)
        if not 0.0 <= split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if split == 0.0:
            return x, t, validation_data
        if validation_data is not None:
            raise ValueError("give validation_data or validation_split, not both")
        x, t = np.asarray(x), np.asarray(t)
        n_val = int(round(len(x) * split))
        if n_val < 1 or n_val >= len(x):
            raise ValueError(f"validation_split={split} leaves no training or no validation data")
        cut = len(x) - n_val  # the last fraction, as Keras takes it
        return x[:cut], t[:cut], (x[cut:], t[cut:])

    def _batches_per_epoch(self, n):
        if self.sampling == "replacement":
            return self.steps_per_epoch or max(1, math.ceil(n / self.batch_size))
        return math.ceil(n / self.batch_size)

    def _order(self, n, n_batches):
        """Row order for one epoch: a permutation (or 0…N−1), or replacement draws."""
        if self.sampling == "replacement":
            return self.rng.choice(n, n_batches * self.batch_size), False
        if self.shuffle:
            return self.rng.permutation(n), False
        return np.arange(n), True

    def _epoch(self, runner, epoch, epochs, n_batches, train, val):
        order, contiguous = self._order(train.n, n_batches)
        epoch_start = _parameters_copy(self.model)
        start = time.perf_counter()
        bar = _Progress(self.verbose, epoch, epochs, n_batches)
        losses = np.full(n_batches, np.nan)
        correct = np.zeros(n_batches, np.int64)
        try:
            for lo, hi in bar.chunks():
                finished = runner.run(order, contiguous, lo, hi, losses, correct)
                done = lo + finished
                bar.update(finished, losses[:done], correct[:done], self._rows(order, done))
                if finished < hi - lo:
                    self._diverged(epoch, done, losses, epoch_start)
        finally:
            bar.close()
        logs = {"loss": float(np.mean(losses)),
                "accuracy": float(correct.sum() / self._rows(order, n_batches))}
        elapsed = time.perf_counter() - start
        if val is not None and ((epoch + 1) % self.eval_every == 0 or epoch + 1 == epochs):
            logs["val_loss"], logs["val_accuracy"] = evaluate(self.model, self.loss_fn, val,
                                                              None)
        self._record(epoch, logs, losses, elapsed)
        bar.summary(logs, elapsed)
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, logs)

    def _rows(self, order, batches):
        return min(order.size, batches * self.batch_size)

    def _record(self, epoch, logs, losses, elapsed):
        h = self.history
        h.epoch.append(epoch)
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            h.history[key].append(logs.get(key, math.nan))
        h.history["epoch_time"].append(elapsed)
        h.train_loss_list.extend(float(x) for x in losses)

    def _diverged(self, epoch, done, losses, epoch_start):
        bad = losses[done]
        self.history.train_loss_list.extend(float(x) for x in losses[:done + 1])
        if self.model.backend.all_finite(self.model.flat_parameters):
            note = "The model keeps the parameters of the last step (all finite)."
        else:  # the last update overflowed: go back to the last parameters known finite
            _set_parameters(self.model, epoch_start)
            note = ("The last update overflowed, so the model was reset to its parameters at "
                    "the start of this epoch.")
        raise TrainingDiverged(
            f"training diverged: the loss became {bad} at epoch {epoch + 1}, iteration "
            f"{done + 1} of that epoch (iteration {len(self.history.train_loss_list)} overall). "
            f"Lower the learning rate or check the data. {note}", self.history)


class _CompiledRunner:
    """Batches through the engine's ``train_steps`` (compiled on the CPU, a launch
    sequence on the GPU) on preallocated buffers of the model's device."""

    def __init__(self, trainer, train):
        self.trainer = trainer
        model = trainer.model
        self.backend = bk = model.backend
        self.x, self.t = train.on(bk)
        self.plan = model.network_plan()
        self.workspace = engine_k.workspace(self.plan, trainer.batch_size, model.dtype, bk.empty)
        self.loss = trainer.loss_fn.spec(model.weight_decay_lambda)
        self._order = (None, None)

    def prepare(self, announce, evaluation=False):
        """Compile (or load from the JIT cache) the engine for these argument types by a
        call that trains on no batch — and with *evaluation* (CPU), the evaluation
        kernel on no rows —, so that epoch times do not include it; returns its
        seconds. With *announce*, says so on stderr if it takes more than a moment
        (a cold compile takes tens of seconds, once per installation)."""
        start = time.perf_counter()
        with _notice_if_slow(announce, COMPILE_NOTICE):
            self.run(np.zeros(1, np.int64), False, 0, 0, np.zeros(1), np.zeros(1, np.int64))
            if evaluation and self.backend.name == "cpu":
                _evaluate_rows(self.trainer.model, self.trainer.loss_fn, self.plan,
                               self.x[:0], self.t[:0], 1)
        return time.perf_counter() - start

    def _device_order(self, order, contiguous):
        """The epoch's row order where the engine reads it (uploaded once per epoch)."""
        if contiguous or self.backend.name == "cpu":
            return order
        if self._order[0] is not order:
            self._order = (order, self.backend.from_host(order))
        return self._order[1]

    def run(self, order, contiguous, lo, hi, losses, correct):
        t, model, opt = self.trainer, self.trainer.model, self.trainer.optimizer
        opt.sync_state()
        batches = engine_k.Batches(self.x, self.t, self._device_order(order, contiguous),
                                   bool(contiguous), t.batch_size)
        net = engine_k.Network(model.flat_parameters, model.flat_gradients, self.plan)
        state = engine_k.OptimizerState(opt.kernel_hyper(), opt.state_rows, opt.step_count)
        done = self.backend.kernels.engine.train_steps(batches, lo, hi, net, self.loss, state,
                                                       self.workspace, losses, correct)
        opt.record_steps(done)
        return done


class _ObjectRunner:
    """Batches through the object API: forward, loss, zero_grad, backward, step."""

    def __init__(self, trainer, train):
        self.trainer, self.data = trainer, train

    def prepare(self, announce, evaluation=False):
        """Nothing to prepare: the object path's kernels compile on first use."""
        return None

    def run(self, order, contiguous, lo, hi, losses, correct):
        t = self.trainer
        model, loss_fn, opt, bs = t.model, t.loss_fn, t.optimizer, t.batch_size
        for k in range(lo, hi):
            rows = order[k * bs:(k + 1) * bs]
            if contiguous:
                xb, tb = self.data.x[rows[0]:rows[-1] + 1], self.data.t[rows[0]:rows[-1] + 1]
            else:
                xb, tb = self.data.x[rows], self.data.t[rows]
            y = model(xb)
            losses[k] = loss_fn(y, tb) + model.regularization_loss()
            correct[k] = engine_k.count_correct(model.backend.to_host(y), tb)
            if not np.isfinite(losses[k]):
                return k - lo
            opt.zero_grad()
            model.backward(loss_fn.backward())
            opt.step()
        return hi - lo


def evaluate(model, loss_fn, x, t, batch_size=None):
    """(loss, accuracy) of *model* on x (N, in_features) and t (labels (N,) or targets (N, C)).

    loss = loss_fn's reduction over all N rows (e.g. the batch mean of the
    cross-entropy) plus the model's L2 penalty ½λΣ‖W‖²; accuracy = the fraction
    of rows whose argmax matches. Runs compiled (on the model's device) for
    chains of Linear(+activation) layers, in batches of *batch_size* rows
    (default 1000).
    """
    data = x if isinstance(x, _Data) else _Data(model, loss_fn, x, t, "evaluation data")
    bs = 1000 if batch_size is None else _positive_int(batch_size, "batch_size")
    bs = min(bs, data.n)
    n, c = data.n, model.out_features
    plan = model.network_plan()
    if plan is not None:
        total, correct = _evaluate_rows(model, loss_fn, plan, *data.on(model.backend), bs)
    else:
        total, correct = 0.0, 0
        for lo in range(0, n, bs):
            y = model.predict(data.x[lo:lo + bs])
            total += loss_fn.evaluate(y, data.t[lo:lo + bs]) / loss_fn.scale(len(y), c)
            correct += engine_k.count_correct(y, data.t[lo:lo + bs])
    loss = float(total) * loss_fn.scale(n, c) + model.regularization_loss()
    return loss, float(correct) / n


def _evaluate_rows(model, loss_fn, plan, x, t, batch_size):
    """(Σ row losses, correct rows) of x, t (on the model's device) by the compiled
    kernel, in batches of *batch_size* rows."""
    bk = model.backend
    work = bk.empty(int(work_offsets(plan, batch_size)[-1]), model.dtype)
    return bk.kernels.engine.evaluate_rows(x, t, batch_size, model.flat_parameters, plan,
                                           loss_fn.code, work)


#: what a user waiting for the first compile of the engine is told (after NOTICE_AFTER s)
COMPILE_NOTICE = ("numbann: compiling the training engine for these array types - once; "
                  "it is cached for later runs (`numbann warmup` does it ahead of time) ...")
NOTICE_AFTER = 2.0


class _notice_if_slow:
    """Context manager: print *message* to stderr if the block is still running after
    NOTICE_AFTER seconds (and how long it took, when it ends); silent unless *enabled*."""

    def __init__(self, enabled, message):
        self.enabled, self.message, self.shown = enabled, message, False

    def _show(self):
        self.shown = True
        print(self.message, file=sys.stderr, flush=True)

    def __enter__(self):
        self.start = time.perf_counter()
        self.timer = threading.Timer(NOTICE_AFTER, self._show) if self.enabled else None
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, *exc):
        if self.timer is not None:
            self.timer.cancel()
            self.timer.join()
        if self.shown:
            print(f"numbann: done in {time.perf_counter() - self.start:.1f}s", file=sys.stderr,
                  flush=True)
        return False


class _Progress:
    """Per-epoch progress: a tqdm bar (verbose=1 in a terminal or notebook), one line
    per epoch (verbose=2, or verbose=1 writing to a file), or nothing (0)."""

    CHUNKS = 50  # compiled calls per epoch while a bar is shown

    def __init__(self, verbose, epoch, epochs, n_batches):
        self.verbose, self.n_batches = verbose, n_batches
        self.label = f"Epoch {epoch + 1}/{epochs}"
        self.bar = None
        if verbose == 1 and _interactive():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=n_batches, desc=self.label, unit="batch", leave=True,
                            dynamic_ncols=True)

    def chunks(self):
        parts = self.CHUNKS if self.bar is not None else 1
        edges = np.linspace(0, self.n_batches, min(parts, self.n_batches) + 1).astype(int)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]

    def update(self, finished, losses, correct, rows):
        if self.bar is not None and finished:
            self.bar.update(finished)
            self.bar.set_postfix(loss=f"{np.mean(losses):.4f}",
                                 accuracy=f"{correct.sum() / max(rows, 1):.4f}", refresh=False)

    def summary(self, logs, elapsed):
        text = " - ".join(f"{k}: {val:.4f}" for k, val in logs.items()
                          if not (isinstance(val, float) and math.isnan(val)))
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)
        elif self.verbose:
            print(f"{self.label} - {elapsed:.2f}s - {text}", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _interactive():
    """True in a terminal or a Jupyter kernel; False when writing to a file or pipe."""
    if "ipykernel" in sys.modules:
        return True
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def fit(model, loss_fn, optimizer, x, t, *, epochs, batch_size=100, validation_data=None,
        validation_split=0.0, shuffle=True, seed=None, verbose=1, callbacks=(), eval_every=1,
        sampling="permutation", steps_per_epoch=None, engine="auto", device=None):
    """Train *model* on (x, t) with mini-batches; returns a :class:`History`.

    x (N, in_features); t class labels (N,) or targets (N, C). Each epoch is a
    shuffled permutation of the rows (``shuffle=False``: in order; the last
    batch may be smaller), or with ``sampling='replacement'`` *steps_per_epoch*
    batches drawn with replacement as the textbook's ``np.random.choice`` loop
    does (default ⌈N / batch_size⌉). *seed* fixes the batch order. Validation
    data (or the last *validation_split* fraction of x) is evaluated every
    *eval_every* epochs and after the last. ``verbose``: 0 silent, 1 progress
    bar, 2 one line per epoch. *callbacks*: :class:`Callback` objects or
    functions ``f(epoch, logs)``. ``engine``: 'auto' (compiled when possible),
    'compiled' or 'objects'. ``device``: 'cpu' or 'cuda' moves the model there
    first (default: where it is); on the GPU the data, parameters and optimizer
    state stay on the device for the whole run. Raises :class:`TrainingDiverged`
    if the loss becomes NaN or infinite.
    """
    if device is not None:
        model.to(device)
    trainer = Trainer(model, loss_fn, optimizer, batch_size=batch_size, shuffle=shuffle,
                      seed=seed, verbose=verbose, callbacks=callbacks, eval_every=eval_every,
                      sampling=sampling, steps_per_epoch=steps_per_epoch, engine=engine)
    return trainer.fit(x, t, epochs=epochs, validation_data=validation_data,
                       validation_split=validation_split)
