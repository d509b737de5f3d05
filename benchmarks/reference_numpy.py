"""A plain NumPy implementation in the textbook's style, float32 throughout.

「ゼロから作るDeep Learning」 chapter 5 builds a network from layer objects
with ``forward``/``backward`` (Affine, Sigmoid, Relu, SoftmaxWithLoss), keeps
the parameters in a ``params`` dict and updates them with an optimizer
object (chapter 6). This module is that code, written for speed the way a
careful NumPy user would, and nothing more:

* float32 everywhere (inputs, weights, gradients, optimizer state); Python
  scalars do not promote float32 arrays in NumPy 2, so it stays float32;
* class labels (N,) rather than one-hot targets (the textbook accepts both);
* the first Affine layer does not compute ∂L/∂x, which nobody needs (PyTorch's
  autograd and JAX's grad skip it too); otherwise the layers are the book's;
* updates in place (``params[k] -= lr * grads[k]``), as the book's SGD.

Adam follows torch.optim.Adam's rule (ε after the bias correction, as
numbann does), not the book's ε placement, so all implementations follow the
same trajectory.

``numerical_gradient`` is the book's element-by-element central difference
(chapter 4) on the same network, in float64 as numbann's compiled version
evaluates it.
"""

import numpy as np
from workloads import ADAM, flat_to_layers

#: what the training benchmarks time
API = "textbook layers (chapter 5) in NumPy"


class Affine:
    def __init__(self, W, b, need_dx=True):
        self.W, self.b = W, b
        self.need_dx = need_dx
        self.x = None
        self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T) if self.need_dx else None


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    """Mean −log y[i, t_i] for labels t (the book's version, with its 1e-7)."""
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n


class SoftmaxWithLoss:
    def __init__(self):
        self.y = self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        return cross_entropy_error(self.y, t)

    def backward(self, dout=1):
        n = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx * np.float32(dout / n)


ACTIVATIONS = {"sigmoid": Sigmoid, "relu": Relu}


class Network:
    """The book's MultiLayerNet structure: Affine, activation, …, Affine, SoftmaxWithLoss.

    *layers* is [(W, b), …] (arrays are used as they are, not copied);
    ``params`` is the book's dict W1, b1, W2, b2, …; *output* 'softmax' makes
    ``predict`` apply softmax (the book's chapter-3 inference network).
    """

    def __init__(self, layers, act="sigmoid", output="logits"):
        self.params = {}
        self.layers = []
        self.output = output
        for i, (w, b) in enumerate(layers, start=1):
            self.params[f"W{i}"], self.params[f"b{i}"] = w, b
            self.layers.append(Affine(w, b, need_dx=i > 1))
            if i < len(layers):
                self.layers.append(ACTIVATIONS[act]())
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return softmax(x) if self.output == "softmax" else x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
        """(loss, grads) by backpropagation; grads is a dict like params."""
        loss = self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        affines = [layer for layer in self.layers if isinstance(layer, Affine)]
        for i, layer in enumerate(affines, start=1):
            grads[f"W{i}"], grads[f"b{i}"] = layer.dW, layer.db
        return loss, grads


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params:
            params[key] -= np.float32(self.lr) * grads[key]


class Adam:
    """torch.optim.Adam's rule, in the book's class shape (state dicts m, v)."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.iter = 0
        self.m = self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        b1, b2 = self.beta1, self.beta2
        step_size = np.float32(self.lr / (1.0 - b1 ** self.iter))
        inv_bc2 = np.float32(1.0 / np.sqrt(1.0 - b2 ** self.iter))
        c1, c2, eps = np.float32(1 - b1), np.float32(1 - b2), np.float32(self.eps)
        for key in params:
            g = grads[key]
            m, v = self.m[key], self.v[key]
            m += c1 * (g - m)  # m ← β₁m + (1 − β₁)g
            v += c2 * (g * g - v)  # v ← β₂v + (1 − β₂)g²
            params[key] -= step_size * m / (np.sqrt(v) * inv_bc2 + eps)


class Momentum:
    """torch.optim.SGD(momentum=0.9): b ← g (first step) else μb + g; p ← p − lr·b.
    (The book's v ← μv − lr·g, p ← p + v is the same rule with v = −lr·b.)"""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.v = None

    def update(self, params, grads):
        lr, mu = np.float32(self.lr), np.float32(self.momentum)
        if self.v is None:
            self.v = {k: g.copy() for k, g in grads.items()}
        else:
            for key in params:
                self.v[key] *= mu
                self.v[key] += grads[key]
        for key in params:
            params[key] -= lr * self.v[key]


class AdaGrad:
    """torch.optim.Adagrad: h ← h + g², p ← p − lr·g / (√h + eps) (the book's eps is 1e-7)."""

    def __init__(self, lr=0.01, eps=1e-10):
        self.lr, self.eps = lr, eps
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        lr, eps = np.float32(self.lr), np.float32(self.eps)
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= lr * grads[key] / (np.sqrt(self.h[key]) + eps)


class RMSprop:
    """torch.optim.RMSprop: s ← αs + (1 − α)g², p ← p − lr·g / (√s + eps)."""

    def __init__(self, lr=0.01, decay_rate=0.99, eps=1e-8):
        self.lr, self.decay_rate, self.eps = lr, decay_rate, eps
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        lr, eps = np.float32(self.lr), np.float32(self.eps)
        a, a1 = np.float32(self.decay_rate), np.float32(1 - self.decay_rate)
        for key in params:
            self.h[key] *= a
            self.h[key] += a1 * grads[key] * grads[key]
            params[key] -= lr * grads[key] / (np.sqrt(self.h[key]) + eps)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adagrad": AdaGrad, "rmsprop": RMSprop,
              "adam": Adam}


def make_optimizer(net):
    if net.opt == "sgd":
        return SGD(net.lr)
    return Adam(net.lr, ADAM["beta1"], ADAM["beta2"], ADAM["eps"])


class Trainer:
    """Network + optimizer for a reference ``workloads.Net``, from a flat weight vector."""

    def __init__(self, net, flat):
        self.net = net
        self.flat = flat.astype(np.float32)  # a private copy; params are views of it
        self.network = Network(flat_to_layers(net, self.flat), net.act)
        self.optimizer = make_optimizer(net)

    def step(self, x, t):
        loss, grads = self.network.gradient(x, t)
        self.optimizer.update(self.network.params, grads)
        return loss

    def epoch(self, x, t, order, batch):
        """One pass over x[order] in mini-batches (the book's loop, gather per batch)."""
        n = order.shape[0]
        loss = 0.0
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            loss = self.step(x[idx], t[idx])
        return loss


def predict_batches(network, x, batch):
    """The book's batched inference loop (chapter 3): outputs for all of x."""
    out = np.empty((x.shape[0], network.layers[-1].W.shape[1]), np.float32)
    for s in range(0, x.shape[0], batch):
        out[s:s + batch] = network.predict(x[s:s + batch])
    return out


# --- the book's numerical gradient (chapter 4) ------------------------------------


def numerical_gradient(f, x, h=1e-4, indices=None):
    """Central difference of f() with respect to every element of x (perturbed in place).

    The book's loop over ``np.nditer``; with *indices* (flat positions) only
    those elements are evaluated and the rest of the result is NaN — used to
    time the loop on a subset and extrapolate.
    """
    grad = np.full_like(x, np.nan)
    if indices is None:
        it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
        positions = []
        while not it.finished:
            positions.append(it.multi_index)
            it.iternext()
    else:
        positions = [np.unravel_index(i, x.shape) for i in indices]
    for idx in positions:
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f()
        x[idx] = tmp_val - h
        fxh2 = f()
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
    return grad


class NumGradNet:
    """The book's TwoLayerNet.numerical_gradient on a float64 copy of the network.

    ``loss`` is the exact softmax cross-entropy (log-sum-exp, no 1e-7), the
    same loss numbann's ``CrossEntropyLoss`` differentiates.
    """

    def __init__(self, net, flat):
        self.flat = flat.astype(np.float64)
        self.layers = flat_to_layers(net, self.flat)
        self.act = net.act

    def loss(self, x, t):
        h = x
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = 1 / (1 + np.exp(-h)) if self.act == "sigmoid" else np.maximum(h, 0)
        m = h.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(h - m).sum(axis=1))
        return float(np.mean(lse - h[np.arange(h.shape[0]), t]))

    def numerical_gradient(self, x, t, indices=None, h=1e-4):
        """Flat gradient (NaN where not evaluated when *indices* is given)."""
        def f():
            return self.loss(x, t)
        return numerical_gradient(f, self.flat, h, indices)
