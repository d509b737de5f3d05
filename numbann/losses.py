"""Loss objects: ``loss = loss_fn(prediction, target)``, then ``loss.backward()``.

Each loss validates its inputs and runs one kernel that computes the value
and the gradient together. The call returns a :class:`~numbann.LossValue` — a
float that back-propagates through the forward the prediction came from
(see :mod:`numbann.autograd`). The textbook's ``loss_fn.backward()`` returns
∂L/∂y of the last call. Predictions are (N, C); class labels are (N,)
integers in [0, C), other targets floats of the prediction's shape.
"""

import numpy as np

from . import _validate as v
from .autograd import LossValue, attach, is_grad_enabled, tape_of
from .device import CPU, backend_of
from .kernels import losses as loss_k

__all__ = ["Loss", "CrossEntropyLoss", "CrossEntropyError", "MSELoss", "SumSquaredError",
           "BCEWithLogitsLoss"]


class Loss:
    """Base class. Subclasses set ``code`` (the kernel's loss code) and how the
    loss is scaled: L = scale · Σ_rows row_loss with scale = ``scale_value`` / n,
    / (n·c) or constant (``scale_kind``)."""

    code = None
    scale_kind = loss_k.SCALE_PER_ROW
    scale_value = 1.0
    #: whether integer class labels are accepted as targets
    accepts_labels = False

    def __init__(self):
        self._last = None  # the last call's LossValue (for the textbook's backward())

    def spec(self, l2_lambda=0.0):
        """The loss as the training engine takes it (:class:`numbann.kernels.losses.LossSpec`),
        with the model's L2 penalty λ."""
        return loss_k.LossSpec(int(self.code), int(self.scale_kind), float(self.scale_value),
                               float(l2_lambda))

    def scale(self, n, c):
        """The factor in front of Σ rows for a batch of n rows of c outputs."""
        return loss_k.batch_scale(self.scale_kind, self.scale_value, n, c)

    def _prediction(self, y):
        arr = v.as_float_array(y, "y", ndim=(1, 2))
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        v.check_not_empty(arr, "y")
        return arr

    def targets(self, t, n, c, dtype):
        """(targets, is_labels) validated for predictions of shape (n, c)."""
        t_arr = np.asarray(t)
        if self.accepts_labels:
            if t_arr.ndim == 0 and n == 1:
                t_arr = t_arr.reshape(1)
            elif t_arr.ndim == 1 and n == 1 and t_arr.size == c and c > 1:
                t_arr = t_arr.reshape(1, c)
            arr, is_labels = v.as_targets(t_arr, n, c, dtype, "target")
        else:
            arr = v.as_float_array(t_arr, "target", dtype)
            # the prediction's shape; 1-D targets only for one row or one output
            if not (arr.shape == (n, c) or (arr.ndim == 1 and arr.size == n * c
                                            and (n == 1 or c == 1))):
                raise ValueError(f"target must have the prediction's shape ({n}, {c}), "
                                 f"got {arr.shape}")
            arr, is_labels = arr.reshape(n, c), False
        if not is_labels:
            v.check_finite(arr, "target")
        self._check_targets(arr, is_labels)
        return arr, is_labels

    def dense_targets(self, t, n, c, dtype):
        """Targets as a float (n, c) matrix (labels become one-hot rows)."""
        arr, is_labels = self.targets(t, n, c, dtype)
        return v.one_hot(arr, c, dtype) if is_labels else arr

    def __call__(self, y, t):
        """The loss value: a :class:`~numbann.LossValue` (a float with ``.backward()``).

        In grad mode it also holds ∂L/∂y, for the backward through the forward
        that produced *y*. *y* may be a device array of a model on the GPU; the
        targets are validated on the host and copied there.
        """
        bk = backend_of(y)
        yb = self._prediction(y) if bk is CPU else y.reshape((1, y.size)) if y.ndim == 1 else y
        n, c = yb.shape
        host_t = backend_of(t).to_host(t)
        tb, is_labels = self.targets(host_t, n, c, yb.dtype)
        need = is_grad_enabled()
        grad = bk.empty(yb.shape if need else (n, 0), yb.dtype)
        value = bk.loss(self.code, yb, bk.from_host(tb), is_labels, self.scale(n, c), grad, need)
        if not need:
            self._last = LossValue(value, why="it was computed under no_grad()")
            return self._last
        grad = grad.reshape(y.shape) if y.ndim == 1 else grad
        tape = tape_of(y)
        if tape is not None:
            attach(grad, tape)  # so that a textbook model.backward(grad) can check its pairing
        why = None if tape is not None else (
            "its prediction was not made by a numbann model's forward in grad mode (it was "
            "computed under no_grad(), by predict(), or changed after the forward, e.g. "
            "sliced or copied)")
        self._last = LossValue(value, grad, tape, why)
        return self._last

    def evaluate(self, y, targets):
        """The value for validated (N, C) predictions and dense targets, no gradient."""
        n, c = y.shape
        return float(loss_k.loss_dense(self.code, y, targets, self.scale(n, c),
                                       np.empty((n, 0), y.dtype), False))

    def _check_targets(self, t, is_labels):
        """Hook for range checks of the targets."""

    def backward(self):
        """The textbook's backward: ∂L/∂y for the last call (an array of y's shape), to
        pass to ``model.backward``."""
        if self._last is None:
            raise RuntimeError("call the loss on (y, t) before backward()")
        if self._last._grad is None:
            raise RuntimeError("the last call of this loss was made under no_grad(): it has "
                               "no gradient")
        return self._last._grad

    def __repr__(self):
        return f"{type(self).__name__}()"

    def config(self):
        """JSON-serialisable description (type and arguments), as the CLI and files record it."""
        return {"type": type(self).__name__}


class CrossEntropyLoss(Loss):
    """Softmax + cross-entropy from logits, mean over the batch (torch's CrossEntropyLoss;
    the textbook's SoftmaxWithLoss).

    L = (1/N) Σ_i Σ_j t_ij (log Σ_k exp(y_ik) − y_ij); t are class labels (N,)
    or one-hot / probability rows (N, C). ∂L/∂y = (softmax(y)·Σ_j t_ij − t) / N.
    """

    code = loss_k.SOFTMAX_CE
    accepts_labels = True


class CrossEntropyError(Loss):
    """The textbook's cross_entropy_error on probabilities (after a Softmax layer).

    L = −(1/N) Σ t log(y + 1e-7); labels (N,) or one-hot rows (N, C).
    """

    code = loss_k.CROSS_ENTROPY
    accepts_labels = True


class MSELoss(Loss):
    """Squared error, averaged over all elements ('mean', torch's default) or summed ('sum').

    L = (1/(N·C)) Σ (y − t)²  or  Σ (y − t)²;  ∂L/∂y = 2(y − t)/(N·C) or 2(y − t).
    """

    code = loss_k.SQUARED_ERROR

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self.scale_kind = loss_k.SCALE_PER_ELEMENT if reduction == "mean" else loss_k.SCALE_CONSTANT

    def __repr__(self):
        return f"MSELoss(reduction={self.reduction!r})"

    def config(self):
        """``{"type": "MSELoss", "reduction": …}``."""
        return {"type": "MSELoss", "reduction": self.reduction}


class SumSquaredError(Loss):
    """The textbook's sum of squared errors, L = ½ Σ (y − t)² (no batch mean); ∂L/∂y = y − t."""

    code = loss_k.SQUARED_ERROR
    scale_kind = loss_k.SCALE_CONSTANT
    scale_value = 0.5


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy of σ(y) against t ∈ [0, 1], mean over all elements.

    ℓ = max(y, 0) − y·t + log(1 + exp(−|y|)) (stable for any finite y);
    ∂L/∂y = (σ(y) − t)/(N·C).
    """

    code = loss_k.BCE_LOGITS
    scale_kind = loss_k.SCALE_PER_ELEMENT

    def _check_targets(self, t, is_labels):
        if t.size and (t.min() < 0 or t.max() > 1):
            raise ValueError("BCEWithLogitsLoss targets must lie in [0, 1]")


LOSSES = {cls.__name__: cls for cls in (CrossEntropyLoss, CrossEntropyError, MSELoss,
                                        SumSquaredError, BCEWithLogitsLoss)}
