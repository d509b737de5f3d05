"""Batch normalization and dropout (chapter 6.3 and 6.4.3), in PyTorch's and the textbook's forms.

* PyTorch's :class:`BatchNorm1d`: ε = 1e-5, running ← 0.9·running + 0.1·batch
  with the *unbiased* batch variance, the running variance from 1.
* The textbook's :class:`BatchNormalization`: ε = 10e-7, the same average with
  the *biased* batch variance, the running statistics from 0.
* PyTorch's :class:`Dropout`: inverted — kept values ×1/(1 − p) in training,
  the identity in evaluation.
* The textbook's ``Dropout(p, inverted=False)``: training multiplies by the
  mask, evaluation by 1 − p.

Both batch norms normalize with the batch's mean and biased variance in
training mode and with the running statistics in evaluation mode
(``model.eval()``); the kernels are in :mod:`numbann.kernels.norm`. The
running statistics are buffers, not parameters: ``state_dict`` holds them
(``running_mean``, ``running_var``, ``num_batches_tracked``) and optimizers
leave them alone.
"""

import numpy as np

from . import _validate as v
from ._config import DEFAULT_DTYPE
from .device import backend_of
from .kernels.norm import dropout_threshold
from .layers import Module, _layer_input, _on_device, as_generator
from .parameter import Parameter, ParameterBuffer

__all__ = ["BatchNorm1d", "BatchNormalization", "Dropout"]


class BatchNorm1d(Module):
    """Batch normalization over the rows of (N, num_features), as torch.nn.BatchNorm1d.

    Training: y = γ ⊙ (x − μ_B)/√(σ²_B + eps) + β with the batch mean and biased
    variance; running = (1 − momentum)·running + momentum·batch, the running
    variance from the unbiased batch variance (``momentum=None``: the cumulative
    average). Evaluation: the running statistics instead of the batch's.
    ``weight``/``bias`` are γ/β (absent without ``affine``).
    """

    #: the convention: the running variance takes the unbiased batch variance
    unbiased = True
    #: the running variance's initial value
    initial_var = 1.0

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, *,
                 dtype=DEFAULT_DTYPE):
        self.num_features = v.positive_int(num_features, "num_features")
        self.eps = float(eps)
        if not (np.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"eps must be a positive number, got {eps!r}")
        if momentum is not None and not (0.0 <= float(momentum) <= 1.0):
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum!r}")
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        dtype = v.float_dtype(dtype)
        c = self.num_features
        self.weight = Parameter(np.ones(c, dtype)) if self.affine else None
        self.bias = Parameter(np.zeros(c, dtype)) if self.affine else None
        if self.affine:
            ParameterBuffer(self.parameters(), dtype)
        self.running_mean = Parameter(np.zeros(c, dtype))
        self.running_var = Parameter(np.full(c, self.initial_var, dtype))
        ParameterBuffer([self.running_mean, self.running_var], dtype)
        #: training forwards so far (PyTorch's counter; keys the cumulative average)
        self.num_batches_tracked = 0

    # --- state -----------------------------------------------------------------

    def named_parameters(self):
        return [("weight", self.weight), ("bias", self.bias)] if self.affine else []

    def named_buffers(self):
        return [("running_mean", self.running_mean), ("running_var", self.running_var)]

    def _counters(self):
        return {"num_batches_tracked": self.num_batches_tracked}

    def _set_counter(self, name, value):
        self.num_batches_tracked = int(value)

    @property
    def dtype(self):
        """The dtype of γ, β and the running statistics."""
        return self.running_mean.dtype

    @property
    def backend(self):
        """The device backend holding the running statistics (and γ, β)."""
        return self.running_mean.backend

    def _parameter_version(self):
        if not self.affine:
            return None
        buf = self.weight._buffer
        return buf, buf.version

    @property
    def factor(self):
        """The weight of the next batch in the running averages."""
        if self.momentum is None:
            return 1.0 / (self.num_batches_tracked + 1)
        return self.momentum

    def plan_momentum(self):
        """The running-average weight for the compiled kernels' plan (−1: cumulative)."""
        return -1.0 if self.momentum is None else self.momentum

    # --- forward and backward ------------------------------------------------------

    def _prepare_input(self, x):
        return _layer_input(x, self.num_features, self.dtype, self, self.backend)

    def _check_batch(self, n):
        if n < 2:
            raise ValueError("BatchNorm1d needs more than 1 row per batch in training mode "
                             "(the variance of one value is 0); use model.eval() for one row")

    def _empty(self, shape):
        return self.backend.empty(shape, self.dtype)

    def _forward(self, x, keep):
        """y = γ ⊙ x̂ + β for x (N, C); saves (x̂, 1/σ, whether batch statistics were used)."""
        k = self.backend.kernels.norm
        y = self.backend.copy(x)
        xhat = self._empty(x.shape)
        st = self._empty((3, self.num_features))
        gamma, beta = self._gamma_beta()
        if self.training:
            self._check_batch(x.shape[0])
            k.batch_norm_train(y, gamma, beta, self.eps, st[0], st[1], st[2], xhat)
            k.update_running(st[0], st[1], x.shape[0], self.running_mean.data,
                             self.running_var.data, self.factor, self.unbiased)
            self.num_batches_tracked += 1
        else:
            k.batch_norm_eval(y, gamma, beta, self.running_mean.data, self.running_var.data,
                              self.eps, st[2], xhat)
        return y, ((xhat, st, self.training) if keep else None)

    def _gamma_beta(self):
        if self.affine:
            return self.weight.data, self.bias.data
        empty = self._empty(0)
        return empty, empty

    def _backward(self, saved, dout, need_input_grad=True):
        """∂L/∂x from ∂L/∂y (the closed form); adds ∂L/∂γ, ∂L/∂β to the gradients."""
        xhat, st, batch_stats = saved
        dx = self._empty(dout.shape)
        gamma = self.weight.data if self.affine else self._empty(0)
        dgamma = self.weight.grad if self.affine else self._empty(0)
        dbeta = self.bias.grad if self.affine else self._empty(0)
        self.backend.kernels.norm.batch_norm_backward(dout, xhat, st[2], gamma, dx, dgamma,
                                                      dbeta, batch_stats, True, st[:2])
        return dx

    def __repr__(self):
        return (f"{type(self).__name__}({self.num_features}, eps={self.eps}, "
                f"momentum={self.momentum}, affine={self.affine})")

    def config(self):
        return {"type": type(self).__name__, "num_features": self.num_features,
                "eps": self.eps, "momentum": self.momentum, "affine": self.affine}

    @classmethod
    def from_config(cls, cfg, dtype, rng=None):
        return cls(cfg["num_features"], cfg.get("eps", 1e-5), cfg.get("momentum", 0.1),
                   cfg.get("affine", True), dtype=dtype)


class BatchNormalization(BatchNorm1d):
    """The textbook's BatchNormalization (common/layers.py), for (N, num_features).

    std = √(var + 10e-7) with the batch's biased variance in training;
    running = momentum·running + (1 − momentum)·batch with the *biased* variance,
    from zeros; γ starts at 1 and β at 0. *momentum* is the book's (0.9), the
    weight of the old running value. Batches of one row are allowed, as in the book.
    """

    unbiased = False
    initial_var = 0.0
    #: the textbook's ε, written 10e-7 in its code
    EPS = 10e-7

    def __init__(self, num_features, momentum=0.9, *, dtype=DEFAULT_DTYPE):
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        super().__init__(num_features, eps=self.EPS, momentum=1.0 - float(momentum),
                         affine=True, dtype=dtype)
        self.book_momentum = float(momentum)

    def _check_batch(self, n):
        pass

    def __repr__(self):
        return f"BatchNormalization({self.num_features}, momentum={self.book_momentum})"

    def config(self):
        return {"type": "BatchNormalization", "num_features": self.num_features,
                "momentum": self.book_momentum}

    @classmethod
    def from_config(cls, cfg, dtype, rng=None):
        return cls(cfg["num_features"], cfg.get("momentum", 0.9), dtype=dtype)


class Dropout(Module):
    """Dropout with drop probability *p*, as torch.nn.Dropout (``inverted=True``) or as the
    textbook (``inverted=False``).

    Training: each element is kept with probability 1 − p; kept values are scaled by
    1/(1 − p) (inverted) or left as they are (the textbook). Evaluation: the identity
    (inverted) or ×(1 − p) (the textbook). The mask of a training forward comes from
    a counter-based generator keyed by this layer's seed (drawn from *rng*, default
    the generator of :func:`numbann.manual_seed`), the number of training forwards
    so far and the element's index, so the compiled engine draws the same masks.
    """

    def __init__(self, p=0.5, inverted=True, *, rng=None):
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inverted = p, bool(inverted)
        self.seed = int(as_generator(rng).integers(0, 2**63 - 1))
        #: training forwards so far (each draws the next mask)
        self.draws = 0

    @property
    def train_scale(self):
        """The factor on kept values in training."""
        if not self.inverted:
            return 1.0
        return 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)

    @property
    def eval_scale(self):
        """The factor in evaluation."""
        return 1.0 if self.inverted else 1.0 - self.p

    @property
    def threshold(self):
        """The mask generator's integer threshold for p (numbann.kernels.norm)."""
        return dropout_threshold(self.p)

    def _prepare_input(self, x):
        arr = _on_device(x, "x", backend_of(x))
        v.check_not_empty(arr, "x")
        return arr

    def _forward(self, x, keep):
        """y = x ⊙ mask · scale in training, x · eval_scale in evaluation; saves the draw."""
        bk = backend_of(x)
        if not self.training:
            if self.eval_scale == 1.0:
                return x, (None if not keep else (None, 1.0))
            y = bk.copy(x)
            bk.kernels.norm.dropout_inplace(y, 0, 0, 0, self.eval_scale)
            return y, ((None, self.eval_scale) if keep else None)
        draw = self.draws
        self.draws += 1
        y = bk.copy(x)
        bk.kernels.norm.dropout_inplace(y, self.seed, draw, self.threshold, self.train_scale)
        return y, ((draw, self.train_scale) if keep else None)

    def _backward(self, saved, dout, need_input_grad=True):
        """∂L/∂x = ∂L/∂y ⊙ mask · scale: the forward's mask, drawn again."""
        draw, scale = saved
        bk = backend_of(dout)
        dx = bk.copy(dout)
        if draw is None:
            bk.kernels.norm.dropout_inplace(dx, 0, 0, 0, scale)
        else:
            bk.kernels.norm.dropout_inplace(dx, self.seed, draw, self.threshold, scale)
        return dx

    def __repr__(self):
        return f"Dropout(p={self.p}" + (", inverted=False)" if not self.inverted else ")")

    def config(self):
        return {"type": "Dropout", "p": self.p, "inverted": self.inverted, "seed": self.seed}

    @classmethod
    def from_config(cls, cfg, dtype, rng=None):
        layer = cls(cfg.get("p", 0.5), cfg.get("inverted", True), rng=rng)
        if "seed" in cfg:
            layer.seed = int(cfg["seed"])
        return layer
