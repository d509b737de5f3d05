"""Mini-batch training: ``fit``, ``evaluate`` and the :class:`Trainer` behind them.

``fit`` runs each epoch as one compiled call (:mod:`numbann.kernels.engine`)
when the model is a chain of Linear(+activation) layers, the loss and the
optimizer are supported and the optimizer covers the model's whole flat
buffer; otherwise it steps through the object API batch by batch
(:mod:`numbann._runners`). Both paths give the same parameters for the same
seed. Callbacks are in :mod:`numbann.callbacks`.
"""

import math
import time
import warnings

import numpy as np

from . import _validate as v
from ._progress import Progress
from ._runners import CompiledRunner, ObjectRunner, TrainingData, evaluate_rows
from .callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    as_callback,
    parameters_copy,
    set_parameters,
)
from .kernels import engine as engine_k
from .layers import mode
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


def _check_pairing(model, optimizer):
    """An optimizer built for another model's parameters would train nothing: raise."""
    own = {id(p) for p in model.parameters()}
    foreign = sum(id(p) not in own for p in optimizer.params)
    if foreign:
        raise ValueError(
            f"the optimizer holds {foreign} of its {len(optimizer.params)} parameters from "
            f"another model, which this model's backward never updates; create it from "
            f"this model's parameters: {type(optimizer).__name__}(model.parameters(), ...)")


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
        _check_pairing(model, optimizer)
        self.batch_size = v.positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.rng = np.random.default_rng(seed)
        self.verbose = verbose
        self.callbacks = [as_callback(cb) for cb in callbacks]
        self.eval_every = v.positive_int(eval_every, "eval_every")
        self.sampling = sampling
        self.steps_per_epoch = (None if steps_per_epoch is None
                                else v.positive_int(steps_per_epoch, "steps_per_epoch"))
        reason = self.compiled_engine_unavailable()
        if engine == "compiled" and reason:
            raise ValueError(f"the compiled engine cannot run this: {reason}")
        self.engine = "objects" if (engine == "objects" or reason) else "compiled"
        if engine == "auto" and reason and model.device == "cuda":
            warnings.warn(f"fit runs step by step through the object API on the GPU, much "
                          f"slower than the compiled engine, because {reason}", stacklevel=3)
        self.announce_compile = verbose > 0
        self.stop_training = False
        self.history = None

    def compiled_engine_unavailable(self):
        """Why the compiled engine cannot run this model/loss/optimizer, or None."""
        if self.model.network_plan() is None:
            return ("the model is not a chain of Linear layers, each followed by at most a "
                    "batch norm, an activation and a dropout, in that order")
        if getattr(self.optimizer, "RULE", None) not in self.model.backend.kernels.optim.RULES:
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
        epochs = v.positive_int(epochs, "epochs")
        x, t, validation_data = self._split(x, t, validation_data, validation_split)
        train = TrainingData(self.model, self.loss_fn, x, t, "training data")
        val = None
        if validation_data is not None:
            if len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, t_val)")
            val = TrainingData(self.model, self.loss_fn, *validation_data, "validation data")
        n_batches = self._batches_per_epoch(train.n)
        self.history = History(dict(
            epochs=epochs, batch_size=self.batch_size, steps=n_batches, samples=train.n,
            validation_samples=val.n if val else 0, engine=self.engine, device=self.model.device,
            sampling=self.sampling, shuffle=self.shuffle, optimizer=repr(self.optimizer),
            loss=repr(self.loss_fn)))
        runner = (CompiledRunner if self.engine == "compiled" else ObjectRunner)(
            self.model, self.loss_fn, self.optimizer, self.batch_size, train)
        self.history.params["jit_time"] = runner.prepare(self.announce_compile,
                                                         evaluation=val is not None)
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            with mode(self.model, True):  # validation runs in evaluation mode regardless
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
        epoch_start = parameters_copy(self.model)
        start = time.perf_counter()
        bar = Progress(self.verbose, epoch, epochs, n_batches)
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
            logs["val_loss"], logs["val_accuracy"] = _evaluate(self.model, self.loss_fn, val,
                                                               1000)
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
            set_parameters(self.model, epoch_start)
            note = ("The last update overflowed, so the model was reset to its parameters at "
                    "the start of this epoch.")
        raise TrainingDiverged(
            f"training diverged: the loss became {bad} at epoch {epoch + 1}, iteration "
            f"{done + 1} of that epoch (iteration {len(self.history.train_loss_list)} overall). "
            f"Lower the learning rate or check the data. {note}", self.history)


def evaluate(model, loss_fn, x, t, batch_size=None):
    """(loss, accuracy) of *model* on x (N, in_features) and t (labels (N,) or targets (N, C)).

    loss = loss_fn's reduction over all N rows (e.g. the batch mean of the
    cross-entropy) plus the model's L2 penalty ½λΣ‖W‖²; accuracy = the fraction
    of rows whose argmax matches. Runs compiled (on the model's device) for
    chains of Linear(+activation) layers, in batches of *batch_size* rows
    (default 1000).
    """
    data = TrainingData(model, loss_fn, x, t, "evaluation data")
    bs = 1000 if batch_size is None else v.positive_int(batch_size, "batch_size")
    return _evaluate(model, loss_fn, data, bs)


def _evaluate(model, loss_fn, data, batch_size):
    """:func:`evaluate` on validated :class:`TrainingData`."""
    bs = min(batch_size, data.n)
    n, c = data.n, model.out_features
    plan = model.network_plan()
    if plan is not None:
        total, correct = evaluate_rows(model, loss_fn, plan, *data.on(model.backend), bs)
    else:
        total, correct = 0.0, 0
        for lo in range(0, n, bs):
            y = model.predict(data.x[lo:lo + bs])
            total += loss_fn.evaluate(y, data.t[lo:lo + bs]) / loss_fn.scale(len(y), c)
            correct += engine_k.count_correct(y, data.t[lo:lo + bs])
    loss = float(total) * loss_fn.scale(n, c) + model.regularization_loss()
    return loss, float(correct) / n


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
    functions ``f(epoch, logs)``. ``engine``: 'auto' (compiled when possible;
    a warning says why not on the GPU), 'compiled' or 'objects'. ``device``:
    'cpu' or 'cuda' moves the model there for good, as ``model.to(device)``
    does — it stays there after fit (default: where it is); on the GPU the
    data, parameters and optimizer state stay on the device for the whole run.
    Raises :class:`TrainingDiverged` if the loss becomes NaN or infinite.
    """
    if device is not None:
        model.to(device)
    trainer = Trainer(model, loss_fn, optimizer, batch_size=batch_size, shuffle=shuffle,
                      seed=seed, verbose=verbose, callbacks=callbacks, eval_every=eval_every,
                      sampling=sampling, steps_per_epoch=steps_per_epoch, engine=engine)
    return trainer.fit(x, t, epochs=epochs, validation_data=validation_data,
                       validation_split=validation_split)
