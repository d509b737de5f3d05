"""Sequential: a chain of layers sharing one flat parameter buffer."""

import copy
from collections import namedtuple

import numpy as np

from . import _validate as v
from .device import device_name, get_backend
from .kernels import activations as act_k
from .kernels.numgrad import network_numerical_gradient
from .kernels.plan import make_plan
from .layers import (
    ACTIVATIONS,
    Activation,
    Linear,
    Module,
    ParameterBuffer,
    _check_dtype,
    _layer_input,
)

__all__ = ["Sequential", "gradient_check", "GradCheck"]


class Stage(namedtuple("Stage", "linear act_code act")):
    """One compiled step of the forward pass: a Linear (or None) and a fused activation.

    ``linear``/``act`` are layer indices (or None); ``act_code`` is the kernel code.
    """


def _plan(layers):
    """Group layers into stages: each Linear takes the activation right after it."""
    stages, i = [], 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, Linear) and isinstance(nxt, Activation):
            stages.append(Stage(i, nxt.code, i + 1))
            i += 2
        elif isinstance(layer, Linear):
            stages.append(Stage(i, act_k.IDENTITY, None))
            i += 1
        else:
            stages.append(Stage(None, layer.code, i))
            i += 1
    return stages


class Sequential(Module):
    """Layers applied in order; parameters in one flat buffer (``model.flat_parameters``).

    ``model(x)`` runs the forward pass and keeps what backward needs;
    ``model.backward(dy)`` adds each parameter's gradient to ``.grad`` (call
    ``zero_grad()`` first, as in PyTorch). Consecutive Linear + activation
    pairs run as one fused kernel.
    """

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, (Linear, Activation)):
                raise TypeError(f"layer {i} is a {type(layer).__name__}; Sequential takes "
                                "Linear and activation layers")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("the same layer object appears twice; create separate layers")
        linears = [(i, layer) for i, layer in enumerate(layers) if isinstance(layer, Linear)]
        if not linears:
            raise ValueError("Sequential needs at least one Linear layer")
        for (i, a), (j, b) in zip(linears, linears[1:]):
            if a.out_features != b.in_features:
                raise ValueError(f"layer {j} ({b!r}) expects {b.in_features} inputs but layer "
                                 f"{i} gives {a.out_features}")
        dtypes = {layer.dtype for _, layer in linears}
        if len(dtypes) > 1:
            raise TypeError(f"layers have different dtypes {sorted(map(str, dtypes))}")
        for i, layer in linears:
            owner = layer.weight._buffer.owner
            if owner is not None:
                raise ValueError(f"layer {i} ({layer!r}) already belongs to another model; "
                                 "use copy.deepcopy(layer) to reuse it")
        self.layers = list(layers)
        self.stages = _plan(self.layers)
        self._buffer = ParameterBuffer(self.parameters(), dtypes.pop(), owner=self)
        self._out = None
        #: λ of an L2 penalty ½λ Σ‖W‖² on the weights (not the biases), part of
        #: the loss as in the textbook's MultiLayerNet; 0 = none.
        self.weight_decay_lambda = 0.0

    # --- structure ------------------------------------------------------------

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        lines = [f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def named_parameters(self):
        return [(f"{i}.{name}", p) for i, layer in enumerate(self.layers)
                for name, p in layer.named_parameters()]

    @property
    def linears(self):
        """The Linear layers, in order."""
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    @property
    def in_features(self):
        """Width of the input: x has shape (N, in_features)."""
        return self.linears[0].in_features

    @property
    def out_features(self):
        """Width of the output: the model gives (N, out_features)."""
        return self.linears[-1].out_features

    @property
    def dtype(self):
        """The dtype of every parameter (float32 or float64)."""
        return self._buffer.dtype

    @property
    def device(self):
        """'cpu' or 'cuda': where the parameters live and the kernels run."""
        return self._buffer.backend.name

    @property
    def backend(self):
        """The device backend (:mod:`numbann.device`) whose kernels run this model."""
        return self._buffer.backend

    @property
    def flat_parameters(self):
        """The flat 1-D parameter array (every weight and bias is a view of it);
        a device array when the model is on the GPU."""
        return self._buffer.data

    @property
    def flat_gradients(self):
        """The flat 1-D gradient array, laid out like :attr:`flat_parameters`."""
        return self._buffer.grad

    def zero_grad(self):
        """Set every gradient to 0 (one fill of the flat gradient buffer)."""
        self.backend.fill(self._buffer.grad, 0)

    def config(self):
        return {"type": "Sequential", "layers": [layer.config() for layer in self.layers]}

    # --- device and dtype ---------------------------------------------------------

    def to(self, target):
        """Move to a device ('cpu', 'cuda') or convert to a dtype (np.float32,
        np.float64); returns the model. Gradients move along; an optimizer's state
        follows at its next step."""
        if isinstance(target, str) and target.lower().startswith(("cpu", "cuda")):
            self._buffer.to(backend=get_backend(device_name(target)))
        else:
            try:
                dtype = _check_dtype(target)
            except TypeError:
                raise ValueError(f"to() takes a device ('cpu' or 'cuda') or a dtype (float32 or "
                                 f"float64), got {target!r}") from None
            self._buffer.to(dtype=dtype)
        self._out = None
        for layer in self.layers:
            layer._x = layer._y = None
        return self

    def cpu(self):
        """``to("cpu")``: parameters and gradients back to NumPy arrays; returns self."""
        return self.to("cpu")

    def cuda(self):
        """``to("cuda")``: parameters and gradients to the GPU; returns self."""
        return self.to("cuda")

    def double(self):
        """``to(np.float64)``: every parameter and gradient as float64; returns self."""
        return self.to(np.float64)

    def float(self):
        """``to(np.float32)``: every parameter and gradient as float32; returns self."""
        return self.to(np.float32)

    # --- forward and backward --------------------------------------------------

    def _input(self, x, host=False, check_finite=True):
        """x validated as (N, in_features) of the model's dtype, on the model's device
        (on the host with *host*); returns (array, was_1d). Host input is checked for
        NaN/inf (unless *check_finite* is false); a device array is taken as it is."""
        if self.backend.holds(x):
            if host:
                x = self.backend.to_host(x)
            else:
                return _layer_input(x, self.in_features, self.dtype, self, self.backend), False
        arr = v.as_float_array(x, "x", self.dtype, ndim=(1, 2))
        was_1d = arr.ndim == 1
        if was_1d:
            arr = arr.reshape(1, -1)
        if arr.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (N, {self.in_features}) for this model, "
                             f"got {arr.shape if not was_1d else arr.shape[1:]}")
        v.check_not_empty(arr, "x")
        if check_finite:
            v.check_finite(arr, "x")
        return (arr if host else self.backend.from_host(arr)), was_1d

    def forward(self, x):
        """Output of the last layer for x (N, in_features); 1-D x gives 1-D output.

        float64 (or integer) input to a float32 model is converted to float32;
        NaN or inf in x raises ValueError.
        """
        h, was_1d = self._input(x)
        h = self._forward(h)
        return h.reshape(h.size) if was_1d else h

    def _forward(self, h):
        """The stages on a validated (N, in_features) array of the model's device."""
        for stage in self.stages:
            if stage.linear is not None:
                h = self.layers[stage.linear].forward(h, act=stage.act_code)
                if stage.act is not None:
                    self.layers[stage.act]._y, self.layers[stage.act]._backend = h, self.backend
            else:
                h = self.layers[stage.act].forward(h)
        self._out = h
        return h

    def backward(self, grad_output, return_input_grad=False):
        """Back-propagate ∂L/∂y (the shape of the last output); adds to every ``.grad``.

        Returns ∂L/∂x when *return_input_grad*, else None (the first layer then
        skips that product).
        """
        if self._out is None:
            raise RuntimeError("backward() called before forward()")
        bk = self.backend
        g = grad_output if bk.holds(grad_output) else v.as_float_array(
            grad_output, "grad_output", self.dtype)
        if g.size != self._out.size or g.ndim not in (1, 2) or g.dtype != self.dtype:
            raise ValueError(f"grad_output must have the output's shape {self._out.shape} "
                             f"and dtype {self.dtype}, got {g.shape} {g.dtype}")
        g = bk.from_host(g.reshape(self._out.shape)) if not bk.holds(g) else g.reshape(
            self._out.shape)
        for k in range(len(self.stages) - 1, -1, -1):
            stage = self.stages[k]
            need = k > 0 or return_input_grad
            if stage.linear is not None:
                g = self.layers[stage.linear].backward(g, act=stage.act_code, need_dx=need)
            else:
                g = self.layers[stage.act].backward(g)
        if self.weight_decay_lambda:
            for layer in self.linears:
                bk.kernels.optim.add_scaled(layer.weight.grad, layer.weight.data,
                                            self.weight_decay_lambda)
        return g if return_input_grad else None

    def regularization_loss(self):
        """½λ Σ‖W‖² over the weights for λ = ``weight_decay_lambda`` (0.0 if λ = 0)."""
        lam = self.weight_decay_lambda
        if not lam:
            return 0.0
        host = self.backend.to_host
        return 0.5 * lam * sum(float(np.sum(np.square(host(layer.weight.data), dtype=np.float64)))
                               for layer in self.linears)

    # --- inference --------------------------------------------------------------

    def predict(self, x, batch_size=None):
        """The model's output for x (N, in_features) as a NumPy array, computed in
        batches of *batch_size* rows (default: all at once). For a classifier these
        are the scores (logits). Inference does not scan x for NaN/inf (that pass
        would cost as much as the first layer): a row holding NaN gets NaN scores."""
        arr, was_1d = self._input(x, host=True, check_finite=False)
        n = arr.shape[0]
        bk = self.backend
        if batch_size is None or batch_size >= n:
            out = np.asarray(bk.to_host(self._forward(bk.from_host(arr))))
        else:
            if int(batch_size) != batch_size or batch_size < 1:
                raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
            batch_size = int(batch_size)
            out = np.empty((n, self.out_features), self.dtype)
            for lo in range(0, n, batch_size):
                out[lo:lo + batch_size] = bk.to_host(self._forward(bk.from_host(
                    arr[lo:lo + batch_size])))
        return out.reshape(-1) if was_1d else out

    def accuracy(self, x, t, batch_size=None):
        """Fraction of rows whose predicted class equals t (labels (N,) or one-hot (N, C)).

        With a single output the prediction is ``score > 0`` against 0/1 labels.
        """
        y = self.predict(x, batch_size)
        y = y.reshape(-1, self.out_features)
        return classification_accuracy(y, t)

    # --- numerical gradient ----------------------------------------------------------

    def network_plan(self):
        """The layout of this chain of Linear(+activation) stages in the flat buffer, as
        the compiled kernels read it (:mod:`numbann.kernels.plan`), or None if the
        model is not such a chain."""
        if any(stage.linear is None for stage in self.stages):
            return None
        layers = []
        for stage in self.stages:
            layer = self.layers[stage.linear]
            layers.append((layer.weight._offset,
                           layer.bias._offset if layer.bias is not None else None,
                           layer.in_features, layer.out_features, stage.act_code))
        return make_plan(layers)

    def numerical_gradient(self, x, t, loss_fn, h=1e-4):
        """Central-difference gradient (L(w + h) − L(w − h)) / 2h of ``loss_fn(model(x), t)``
        for every parameter, evaluated in float64; returns {name: array}.

        For a chain of Linear(+activation) layers it runs compiled and in
        parallel, recomputing only what each perturbation changes
        (:func:`numbann.kernels.numgrad.network_numerical_gradient`).
        """
        if not (np.isfinite(h) and h > 0):
            raise ValueError(f"h must be a positive finite step, got {h}")
        x64, _ = self._input(x, host=True)
        x64 = np.ascontiguousarray(x64, dtype=np.float64)
        n, c = x64.shape[0], self.out_features
        targets = loss_fn.dense_targets(t, n, c, np.float64)
        plan = self.network_plan()
        params = self.backend.to_host(self._buffer.data).astype(np.float64)
        grad = np.empty_like(params)
        if plan is not None:
            network_numerical_gradient(x64, targets, params, plan, loss_fn.code,
                                       loss_fn.scale(n, c), float(h), grad)
        else:
            grad = self._numerical_gradient_loop(x64, targets, loss_fn, h)
        lam = self.weight_decay_lambda
        if lam:  # ∂(½λ‖W‖²)/∂W = λW, which central differences give exactly
            for layer in self.linears:
                w = slice(layer.weight._offset, layer.weight._offset + layer.weight.size)
                grad[w] += lam * params[w]
        return {name: grad[p._offset:p._offset + p.size].reshape(p.shape).astype(self.dtype)
                for name, p in self.named_parameters()}

    def _numerical_gradient_loop(self, x64, targets, loss_fn, h):
        """The textbook's element-by-element loop, on a float64 copy of the model."""
        model = copy.deepcopy(self).to("cpu").double()
        flat = model._buffer.data
        grad = np.empty_like(flat)

        def loss():
            return loss_fn.evaluate(model.forward(x64), targets)

        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + h
            fp = loss()
            flat[i] = orig - h
            fm = loss()
            flat[i] = orig
            grad[i] = (fp - fm) / (2 * h)
        return grad


def classification_accuracy(scores, t):
    """Fraction of rows of scores (N, C) whose argmax equals t (labels or one-hot rows)."""
    n, c = scores.shape
    t_arr = np.asarray(t)
    if t_arr.ndim == 2:
        if t_arr.shape != (n, c):
            raise ValueError(f"t must be labels ({n},) or one-hot ({n}, {c}), got {t_arr.shape}")
        labels = np.argmax(t_arr, axis=1) if c > 1 else (t_arr[:, 0] > 0.5).astype(np.int64)
    else:
        labels = v.as_labels(t_arr, n, max(c, 2), "t")
    predicted = np.argmax(scores, axis=1) if c > 1 else (scores[:, 0] > 0).astype(np.int64)
    return float(np.mean(predicted == labels))


GradCheck = namedtuple("GradCheck", "max_abs rel mean_abs")
GradCheck.__doc__ = """Backprop vs numerical gradient of one parameter.

max_abs: max |backprop − numerical|; mean_abs: mean of it (the figure the
textbook's gradient_check.py prints); rel: ‖backprop − numerical‖ / max(‖backprop‖, ‖numerical‖).
"""


def gradient_check(model, x, t, loss_fn, h=1e-4):
    """Compare backprop with the numerical gradient for every parameter: {name: GradCheck}.

    Use a float64 model (``model.double()``) for a meaningful check; float32
    backprop differs from the float64 numerical gradient by float32 rounding.
    """
    numeric = model.numerical_gradient(x, t, loss_fn, h)  # includes the L2 penalty, if any
    backprop = model_gradient(model, x, t, loss_fn)
    report = {}
    for name, num in numeric.items():
        a, b = backprop[name].astype(np.float64), num.astype(np.float64)
        diff = np.abs(a - b)
        scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)
        report[name] = GradCheck(float(diff.max()), float(np.linalg.norm(a - b) / scale),
                                 float(diff.mean()))
    return report


def model_gradient(model, x, t, loss_fn):
    """{name: ∂L/∂p} by backprop for L = loss_fn(model(x), t) (grads are reset first)."""
    model.zero_grad()
    loss_fn(model(x), t)
    model.backward(loss_fn.backward())
    return {name: np.array(p.backend.to_host(p.grad)) for name, p in model.named_parameters()}


def layer_from_config(cfg, dtype):
    """Rebuild one layer from its :meth:`Module.config` (parameters zeroed)."""
    kind = cfg.get("type")
    if kind == "Linear":
        return Linear(cfg["in_features"], cfg["out_features"], bias=cfg.get("bias", True),
                      init=0.0, dtype=dtype)
    for cls in ACTIVATIONS.values():
        if cls.__name__ == kind:
            return cls()
    raise ValueError(f"unknown layer type {kind!r} in the model file")
