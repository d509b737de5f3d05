"""Sequential: a chain of layers sharing one flat parameter buffer."""

import numpy as np

from . import _fusion, _inference
from . import _validate as v
from .autograd import is_grad_enabled, record
from .device import device_name, get_backend
from .layers import Activation, Linear, Module, _grad_input, _layer_input, mode
from .normalization import BatchNorm1d, Dropout
from .parameter import ParameterBuffer

__all__ = ["Sequential", "classification_accuracy"]

#: the layer kinds a Sequential takes
LAYER_TYPES = (Linear, Activation, BatchNorm1d, Dropout)


def _check_widths(layers):
    """Consecutive layers must agree on the width of what passes between them."""
    width, source = None, None
    for i, layer in enumerate(layers):
        if isinstance(layer, Linear):
            takes, gives = layer.in_features, layer.out_features
        elif isinstance(layer, BatchNorm1d):
            takes = gives = layer.num_features
        else:
            continue
        if width is not None and takes != width:
            raise ValueError(f"layer {i} ({layer!r}) expects {takes} inputs but layer "
                             f"{source} gives {width}")
        width, source = gives, i


class Sequential(Module):
    """Layers applied in order; parameters in one flat buffer (``model.flat_parameters``).

    ``y = model(x)`` runs the forward pass and, in grad mode, keeps what the
    backward of that call needs; ``loss_fn(y, t).backward()`` adds each
    parameter's gradient to ``.grad`` (call ``zero_grad()`` first, as in
    PyTorch). The textbook's ``model.backward(dy)`` back-propagates the last
    forward. Consecutive Linear + activation pairs run as one fused kernel.
    """

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, LAYER_TYPES):
                raise TypeError(f"layer {i} is a {type(layer).__name__}; Sequential takes "
                                "Linear, activation, batch norm and dropout layers")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("the same layer object appears twice; create separate layers")
        if not any(isinstance(layer, Linear) for layer in layers):
            raise ValueError("Sequential needs at least one Linear layer")
        _check_widths(layers)
        sized = [layer for layer in layers if isinstance(layer, (Linear, BatchNorm1d))]
        dtypes = {layer.dtype for layer in sized}
        if len(dtypes) > 1:
            raise TypeError(f"layers have different dtypes {sorted(map(str, dtypes))}")
        for i, layer in enumerate(layers):
            owners = {p._buffer.owner for p in layer.parameters() + layer.buffers()}
            if owners != {None} and owners:
                raise ValueError(f"layer {i} ({layer!r}) already belongs to another model; "
                                 "use copy.deepcopy(layer) to reuse it")
        self.layers = list(layers)
        self.stages = _fusion.stages(self.layers)
        self._groups = _fusion.groups(self.layers)
        dtype = dtypes.pop()
        self._buffer = ParameterBuffer(self.parameters(), dtype, owner=self)
        self._stats = ParameterBuffer(self.buffers(), dtype, owner=self)
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

    def children(self):
        return list(self.layers)

    def _parameter_version(self):
        return self._buffer, self._buffer.version

    def named_parameters(self):
        return [(f"{i}.{name}", p) for i, layer in enumerate(self.layers)
                for name, p in layer.named_parameters()]

    def named_buffers(self):
        return [(f"{i}.{name}", b) for i, layer in enumerate(self.layers)
                for name, b in layer.named_buffers()]

    def named_counters(self):
        return [(f"{i}.{name}", owner) for i, layer in enumerate(self.layers)
                for name, owner in layer.named_counters()]

    @property
    def linears(self):
        """The Linear layers, in order."""
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    @property
    def in_features(self):
        """Width of the input: x has shape (N, in_features)."""
        first = next(layer for layer in self.layers if isinstance(layer, (Linear, BatchNorm1d)))
        return first.in_features if isinstance(first, Linear) else first.num_features

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
            backend = get_backend(device_name(target))
            self._buffer.to(backend=backend)
            self._stats.to(backend=backend)
        else:
            try:
                dtype = v.float_dtype(target)
            except TypeError:
                raise ValueError(f"to() takes a device ('cpu' or 'cuda') or a dtype (float32 or "
                                 f"float64), got {target!r}") from None
            self._buffer.to(dtype=dtype)
            self._stats.to(dtype=dtype)
        self._last_tape = None
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
        NaN or inf in x raises ValueError. In grad mode the call keeps a tape
        for its own backward (see :mod:`numbann.autograd`).
        """
        h, was_1d = self._input(x)
        keep = is_grad_enabled()
        y, saved = self._forward(h, keep)
        if was_1d:
            y = y.reshape(y.size)
        if keep:
            self._last_tape, y = record(self, saved, y)
        return y

    def _forward(self, h, keep):
        """The stages on a validated (N, in_features) array of the model's device; returns
        (output, what each stage saved, or None unless *keep*)."""
        if not keep:
            for stage in self.stages:
                h = stage.forward(h, False)[0]
            return h, None
        saved = []
        for stage in self.stages:
            h, s = stage.forward(h, True)
            saved.append(s)
        return h, saved

    def _backward(self, saved, g, need_input_grad=False):
        """Back-propagate ∂L/∂y (*g*, the output's shape) through the stages' saved arrays,
        adding into every ``.grad`` (and the L2 term λW); returns ∂L/∂x or None."""
        if g.ndim == 1:
            g = g.reshape((g.size // self.out_features, self.out_features))
        last = len(self.stages) - 1
        for k in range(last, -1, -1):
            g = self.stages[k].backward(saved[k], g, k > 0 or need_input_grad)
        if self.weight_decay_lambda:
            add = self.backend.kernels.optim.add_scaled
            for layer in self.linears:
                add(layer.weight.grad, layer.weight.data, self.weight_decay_lambda)
        return g

    def backward(self, grad_output, return_input_grad=False):
        """The textbook's backward: back-propagate ∂L/∂y (the shape of the last forward's
        output) through the last forward, adding to every ``.grad``.

        Returns ∂L/∂x when *return_input_grad*, else None (the first layer then
        skips that product). Raises RuntimeError if *grad_output* is the gradient
        of a loss on another forward's output; ``loss.backward()`` is the way then.
        """
        tape = self._textbook_tape(grad_output)
        g = _grad_input(grad_output, tape)
        dx = tape.backward(g, retain_graph=True, need_input_grad=return_input_grad)
        return dx if return_input_grad else None

    def regularization_loss(self):
        """½λ Σ‖W‖² over the weights for λ = ``weight_decay_lambda`` (0.0 if λ = 0)."""
        lam = self.weight_decay_lambda
        if not lam:
            return 0.0
        host = self.backend.to_host
        return 0.5 * lam * sum(float(np.sum(np.square(host(layer.weight.data), dtype=np.float64)))
                               for layer in self.linears)

    # --- inference --------------------------------------------------------------

    def predict(self, x, batch_size=None, training=False):
        """The model's output for x (N, in_features) as a NumPy array, computed at
        most *batch_size* rows at a time (default: all at once, or on a CPU with several
        Numba threads a few hundred rows per thread, each thread on its share of the
        rows), in evaluation mode (batch norm with its running statistics, no dropout)
        unless *training*, keeping no tape. In evaluation mode every row's output
        depends on that row alone, so *batch_size* bounds the memory, not the result.
        For a classifier these are the scores (logits). Inference does not scan x for
        NaN/inf (that pass would cost as much as the first layer): a row holding NaN
        gets NaN scores."""
        arr, was_1d = self._input(x, host=True, check_finite=False)
        n = arr.shape[0]
        bk = self.backend
        if batch_size is not None:
            batch_size = v.positive_int(batch_size, "batch_size")
        with mode(self, training):
            if not training and _inference.can_split(self, n):  # rows are independent
                out = _inference.predict_split(self, arr, batch_size)
            elif batch_size is None or batch_size >= n:
                out = np.asarray(bk.to_host(self._forward(bk.from_host(arr), False)[0]))
            else:
                out = np.empty((n, self.out_features), self.dtype)
                for lo in range(0, n, batch_size):
                    out[lo:lo + batch_size] = bk.to_host(self._forward(bk.from_host(
                        arr[lo:lo + batch_size]), False)[0])
        return out.reshape(-1) if was_1d else out

    def accuracy(self, x, t, batch_size=None, training=False):
        """Fraction of rows whose predicted class equals t (labels (N,) or one-hot (N, C)),
        in evaluation mode unless *training* (see :meth:`predict`).

        With a single output the prediction is ``score > 0`` against 0/1 labels.
        """
        y = Sequential.predict(self, x, batch_size=batch_size, training=training)
        y = y.reshape(-1, self.out_features)
        return classification_accuracy(y, t)

    # --- the compiled paths ----------------------------------------------------------

    def network_plan(self):
        """The layout of this chain of Linear → [BatchNorm] → [activation] → [Dropout]
        groups in the flat buffers, as the compiled kernels read it
        (:mod:`numbann.kernels.plan`), or None if the model is not such a chain."""
        return _fusion.network_plan(self._groups)

    @property
    def flat_stats(self):
        """The flat 1-D array of the batch norms' running statistics (empty without)."""
        return self._stats.data

    def numerical_gradient(self, x, t, loss_fn, h=1e-4):
        """Central-difference gradient of ``loss_fn(model(x), t)`` for every parameter, in
        float64: {name: array} (see :func:`numbann.gradient.model_numerical_gradient`)."""
        from .gradient import model_numerical_gradient

        return model_numerical_gradient(self, x, t, loss_fn, h)


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
