"""Callbacks for :func:`numbann.fit`: EarlyStopping, ModelCheckpoint, or any function.

A callback's hooks get the :class:`~numbann.Trainer` (``trainer.model``,
``trainer.optimizer``, ``trainer.history``; ``trainer.stop_training = True``
ends training after the epoch) and, after each epoch, its logs.
"""

import math
from pathlib import Path

import numpy as np

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint"]


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
                self.best_weights = parameters_copy(trainer.model)
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = epoch
                trainer.stop_training = True

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None:
            set_parameters(trainer.model, self.best_weights)


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


def parameters_copy(model):
    """The model's flat parameters as a new host array (from either device)."""
    return np.array(model.backend.to_host(model.flat_parameters))


def set_parameters(model, values):
    """Write host *values* into the model's flat parameters (on either device)."""
    model.backend.assign(model.flat_parameters, values)
    model._buffer.version += 1


class _FunctionCallback(Callback):
    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, trainer, epoch, logs):
        self.fn(epoch, logs)


def as_callback(cb):
    if isinstance(cb, Callback):
        return cb
    if callable(cb):
        return _FunctionCallback(cb)
    raise TypeError(f"callbacks must be Callback objects or callables, got {type(cb).__name__}")
