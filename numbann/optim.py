"""Optimizers with torch.optim's update rules, defaults and argument checks.

``opt = nb.optim.Adam(model.parameters(), lr=1e-3)``; each training step
calls ``opt.zero_grad()``, the backward pass, then ``opt.step()``. State
(momentum buffers, running averages) is allocated up front as flat arrays.
When the parameters are exactly a model's flat buffer — the usual case —
a step is a single kernel call over that buffer.

The textbook's optimizers are the same rules with a different ε (1e-7, and
for Adam ε added before the bias correction; see each kernel's docstring in
:mod:`numbann.kernels.optim`): ``AdaGrad(params, lr=0.01, eps=1e-7)``,
``RMSProp(params, lr=0.01, alpha=0.99, eps=1e-7)``, ``Momentum(params, lr=0.01)``.
"""

import math

import numpy as np

from .device import backend_of
from .kernels import optim as optim_k
from .layers import Parameter

__all__ = ["Optimizer", "SGD", "Momentum", "AdaGrad", "Adagrad", "RMSProp", "RMSprop", "Adam"]


def _check(ok, message):
    if not ok:
        raise ValueError(message)


def _nonneg(value, what):
    _check(isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
           and math.isfinite(value) and value >= 0, f"Invalid {what}: {value}")
    return float(value)


class Optimizer:
    """Base class: parameter list, flat state, zero_grad, step, state dicts.

    Subclasses name their update rule in ``RULE`` (one of
    :mod:`numbann.kernels.optim`'s, which also names and orders the state rows:
    ``ROWS[RULE]``), say which rows are in use in ``_state_names()`` and build
    its hyperparameter tuple in :meth:`kernel_hyper`. The state lives in one (len(ROWS), P)
    array; ``state`` maps the names in use to its rows. A step is one kernel
    call per segment (one for a model's flat buffer), the same update the
    compiled training engine runs.
    """

    RULE = None

    def __init__(self, params, **hyper):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters, got {type(p).__name__}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("some parameters appear more than once")
        self.params = params
        self.defaults = dict(hyper)
        for name, value in hyper.items():
            setattr(self, name, value)
        self.step_count = 0
        self._allocate_state(params[0].dtype)
        self._init_state()

    @property
    def backend(self):
        """The device backend of the parameters (the state follows it)."""
        return self.params[0].backend

    def _allocate_state(self, dtype, values=None):
        """Allocate the state rows on the parameters' device (copying *values* in)."""
        used = self._state_names()
        size = sum(p.size for p in self.params) if used else 0
        rows = np.zeros((len(optim_k.ROWS[self.RULE]), size), dtype)
        if values is not None:
            rows[...] = values
        self.state_rows = self.backend.from_host(rows)
        self.state = {name: self.state_rows[i] for i, name in enumerate(optim_k.ROWS[self.RULE])
                      if name in used}

    def _state_names(self):
        return ()

    def _init_state(self):
        """Hook for state that does not start at zero."""

    @property
    def hyperparameters(self):
        """The current hyperparameters ({name: value}); change them as attributes."""
        return {name: getattr(self, name) for name in self.defaults}

    def _flat_buffer(self):
        """The model buffer when the parameters are exactly its parameters, else None
        (the answer is kept while the first parameter stays in the same buffer)."""
        buf = self.params[0]._buffer
        cached = getattr(self, "_flat_cache", None)
        if cached is not None and cached[0] is buf:
            return cached[1]
        flat = buf if buf is not None and len(buf.params) == len(self.params) and all(
            a is b for a, b in zip(buf.params, self.params)) else None
        self._flat_cache = (buf, flat)
        return flat

    def segments(self):
        """(data, grad, state) triples the update runs over: 1-D data and gradient and
        the (k, size) state columns that belong to them."""
        buf = self._flat_buffer()
        if buf is not None:
            return [(buf.data, buf.grad, self.state_rows)]
        out, offset = [], 0
        for p in self.params:
            out.append((p.data.reshape(-1), p.grad.reshape(-1),
                        self.state_rows[:, offset:offset + p.size]))
            offset += p.size
        return out

    def zero_grad(self):
        """Set the gradient of every parameter to zero."""
        buf = self._flat_buffer()
        if buf is not None:
            buf.backend.fill(buf.grad, 0)
        else:
            for p in self.params:
                p.zero_grad()

    def sync_state(self):
        """Follow a dtype or device change of the parameters made after the optimizer
        was created."""
        dtype, bk = self.params[0].dtype, self.backend
        if self.state_rows.dtype != dtype or backend_of(self.state_rows) is not bk:
            self._allocate_state(dtype, backend_of(self.state_rows).to_host(self.state_rows))

    def kernel_hyper(self):  # pragma: no cover - abstract
        """The rule and its hyperparameters as the kernels take them
        (:class:`numbann.kernels.optim.Hyper`)."""
        raise NotImplementedError

    def step(self):
        """Update every parameter once from its ``.grad``."""
        self.sync_state()
        self.step_count += 1
        hyper, update = self.kernel_hyper(), self.backend.kernels.optim.optimizer_step
        for data, grad, state in self.segments():
            update(hyper, data, grad, state, self.step_count, 0, -1)
        self._parameters_changed()

    def record_steps(self, count):
        """Count *count* updates that the compiled engine made with this optimizer's rule
        and state (the step count drives bias corrections and decays)."""
        self.step_count += int(count)
        if count:
            self._parameters_changed()

    def _parameters_changed(self):
        """Tell the parameters' buffers that their values changed (tapes check it)."""
        flat = self._flat_buffer()
        if flat is not None:
            flat.version += 1
            return
        buffers = {id(p._buffer): p._buffer for p in self.params if p._buffer is not None}
        for buf in buffers.values():
            buf.version += 1

    def state_dict(self):
        """{'type', 'hyperparameters', 'step', 'state': {name: flat NumPy array copy}}."""
        host = self.backend.to_host
        return {"type": type(self).__name__, "hyperparameters": self.hyperparameters,
                "step": self.step_count,
                "state": {name: np.array(host(arr)) for name, arr in self.state.items()}}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters, step count and state saved by :meth:`state_dict`."""
        kind = state_dict.get("type")
        if kind != type(self).__name__:
            raise ValueError(f"state_dict is for {kind}, not {type(self).__name__}")
        saved = state_dict.get("state", {})
        # the saved hyperparameters decide which state arrays exist (e.g. momentum)
        fresh = type(self)(self.params, **dict(state_dict.get("hyperparameters", {})))
        if set(saved) != set(fresh.state):
            raise KeyError(f"optimizer state has keys {sorted(saved)}, expected "
                           f"{sorted(fresh.state)}")
        for name, arr in saved.items():
            arr = np.asarray(arr)
            if arr.shape != fresh.state[name].shape:
                raise ValueError(f"optimizer state {name!r} has shape {arr.shape}, expected "
                                 f"{fresh.state[name].shape}")
            self.backend.assign(fresh.state[name], arr)
        for name in self.defaults:
            setattr(self, name, getattr(fresh, name))
        self.state_rows, self.state = fresh.state_rows, fresh.state
        self.step_count = int(state_dict.get("step", 0))
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (torch.optim.SGD).

    g ← ∇ + weight_decay·p;  with momentum μ: b ← μb + (1 − dampening)g (b = g at
    the first step), g ← g + μb (nesterov) or b;  p ← p − lr·g.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        lr = _nonneg(lr, "learning rate")
        momentum = _nonneg(momentum, "momentum value")
        dampening = _nonneg(dampening, "dampening value")
        weight_decay = _nonneg(weight_decay, "weight_decay value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=bool(nesterov))

    RULE = optim_k.SGD

    def kernel_hyper(self):
        return optim_k.hyper(self.RULE, lr=self.lr, momentum=self.momentum,
                             dampening=self.dampening, weight_decay=self.weight_decay,
                             nesterov=self.nesterov)

    def _state_names(self):
        return ("momentum_buffer",) if self.momentum else ()


class Momentum(SGD):
    """The textbook's Momentum: SGD with momentum 0.9 and lr 0.01 by default."""

    def __init__(self, params, lr=0.01, momentum=0.9, **kwargs):
        super().__init__(params, lr=lr, momentum=momentum, **kwargs)


class AdaGrad(Optimizer):
    """AdaGrad (torch.optim.Adagrad): h ← h + g², p ← p − clr·g/(√h + eps),
    clr = lr / (1 + (t − 1)·lr_decay)."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(
            params, lr=_nonneg(lr, "learning rate"), lr_decay=_nonneg(lr_decay, "lr_decay value"),
            weight_decay=_nonneg(weight_decay, "weight_decay value"),
            initial_accumulator_value=_nonneg(initial_accumulator_value,
                                              "initial_accumulator_value value"),
            eps=_nonneg(eps, "epsilon value"))

    RULE = optim_k.ADAGRAD

    def kernel_hyper(self):
        return optim_k.hyper(self.RULE, lr=self.lr, lr_decay=self.lr_decay,
                             weight_decay=self.weight_decay, eps=self.eps)

    def _state_names(self):
        return ("sum",)

    def _init_state(self):
        self.backend.fill(self.state["sum"], self.initial_accumulator_value)


class RMSProp(Optimizer):
    """RMSProp (torch.optim.RMSprop): s ← αs + (1 − α)g², p ← p − lr·g/(√s + eps);
    optionally centered and with momentum."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        alpha = _nonneg(alpha, "alpha value")
        _check(alpha <= 1, f"Invalid alpha value: {alpha}")
        super().__init__(params, lr=_nonneg(lr, "learning rate"), alpha=alpha,
                         eps=_nonneg(eps, "epsilon value"),
                         weight_decay=_nonneg(weight_decay, "weight_decay value"),
                         momentum=_nonneg(momentum, "momentum value"), centered=bool(centered))

    RULE = optim_k.RMSPROP

    def kernel_hyper(self):
        return optim_k.hyper(self.RULE, lr=self.lr, alpha=self.alpha, eps=self.eps,
                             weight_decay=self.weight_decay, momentum=self.momentum,
                             centered=self.centered)

    def _state_names(self):
        names = ["square_avg"]
        if self.centered:
            names.append("grad_avg")
        if self.momentum > 0:
            names.append("momentum_buffer")
        return tuple(names)


class Adam(Optimizer):
    """Adam with bias correction (torch.optim.Adam), optionally AMSGrad.

    m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − lr/(1 − β₁ᵗ) · m/(√v/√(1 − β₂ᵗ) + eps).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        betas = tuple(betas)
        _check(len(betas) == 2, f"betas must be a pair, got {betas}")
        for i, b in enumerate(betas):
            _check(isinstance(b, (int, float, np.floating)) and 0.0 <= b < 1.0,
                   f"Invalid beta parameter at index {i}: {b}")
        super().__init__(params, lr=_nonneg(lr, "learning rate"),
                         betas=(float(betas[0]), float(betas[1])),
                         eps=_nonneg(eps, "epsilon value"),
                         weight_decay=_nonneg(weight_decay, "weight_decay value"),
                         amsgrad=bool(amsgrad))

    RULE = optim_k.ADAM

    def kernel_hyper(self):
        return optim_k.hyper(self.RULE, lr=self.lr, beta1=self.betas[0], beta2=self.betas[1],
                             eps=self.eps, weight_decay=self.weight_decay,
                             amsgrad=self.amsgrad)

    def _state_names(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())


#: torch's spellings
Adagrad = AdaGrad
RMSprop = RMSProp

OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Momentum, AdaGrad, RMSProp, Adam)}
