"""Plain-NumPy float64 reference implementations, independent of numbann's kernels.

Written the straightforward way (the textbook's or torch.optim's documented
rules), so that a kernel is never tested only against itself.
"""

import numpy as np

# --- activations --------------------------------------------------------


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    # exact enough in float64 for |x| < 700; beyond that use the limits
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def activation(name, x):
    x = np.asarray(x, dtype=np.float64)
    if name == "identity":
        return x.copy()
    if name == "sigmoid":
        return sigmoid(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "step":
        return (x > 0).astype(np.float64)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(name)


def activation_grad(name, x, dy):
    """dL/dx given dL/dy for y = f(x), from the input x."""
    x = np.asarray(x, dtype=np.float64)
    if name == "identity":
        return dy.copy()
    if name == "sigmoid":
        s = sigmoid(x)
        return dy * s * (1 - s)
    if name == "tanh":
        return dy * (1 - np.tanh(x) ** 2)
    if name == "relu":
        return dy * (x > 0)
    if name == "step":
        return np.zeros_like(dy)
    if name == "softmax":
        y = activation("softmax", x)
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    raise ValueError(name)


# --- losses (value, gradient) ------------------------------------------------


def log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def softmax_cross_entropy(z, t):
    """t: labels (N,) or target rows (N, C). Mean over the batch."""
    z = np.asarray(z, dtype=np.float64)
    n, c = z.shape
    T = np.eye(c)[t] if np.ndim(t) == 1 else np.asarray(t, dtype=np.float64)
    loss = -(T * log_softmax(z)).sum() / n
    p = np.exp(log_softmax(z))
    grad = (p * T.sum(axis=1, keepdims=True) - T) / n
    return loss, grad


def cross_entropy_error(y, t, delta=1e-7):
    y = np.asarray(y, dtype=np.float64)
    n, c = y.shape
    T = np.eye(c)[t] if np.ndim(t) == 1 else np.asarray(t, dtype=np.float64)
    loss = -np.sum(T * np.log(y + delta)) / n
    return loss, -T / (y + delta) / n


def loss_scale(code, n, c, squared_scale):
    """The factor in front of Σ rows for numbann's loss codes (numbann.kernels.losses):
    1/N for the cross-entropies, 1/(N·C) for BCE, *squared_scale* for the squared error."""
    from numbann.kernels import losses as L

    if code == L.SQUARED_ERROR:
        return squared_scale
    if code == L.BCE_LOGITS:
        return 1.0 / (n * c)
    return 1.0 / n


def squared_error(y, t, scale):
    d = np.asarray(y, dtype=np.float64) - np.asarray(t, dtype=np.float64)
    return scale * np.sum(d * d), 2 * scale * d


def bce_with_logits(z, t):
    z = np.asarray(z, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    p = sigmoid(z)
    with np.errstate(divide="ignore"):
        ell = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    return ell.mean(), (p - t) / z.size


# --- dense layer ------------------------------------------------------------


def dense_forward(x, w, b, act):
    return activation(act, x @ w + b)


def dense_backward(x, w, b, act, da):
    z = x @ w + b
    dz = activation_grad(act, z, da)
    return x.T @ dz, dz.sum(axis=0), dz @ w.T


# --- optimizers: torch.optim's documented update rules, one step --------------


def sgd(p, g, state, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    g = g + weight_decay * p
    if momentum:
        buf = state.get("buf")
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        state["buf"] = buf
        g = g + momentum * buf if nesterov else buf
    return p - lr * g


def adagrad(p, g, state, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
            initial_accumulator_value=0.0):
    step = state["step"] = state.get("step", 0) + 1
    g = g + weight_decay * p
    clr = lr / (1 + (step - 1) * lr_decay)
    s = state.get("sum", np.full_like(p, initial_accumulator_value)) + g * g
    state["sum"] = s
    return p - clr * g / (np.sqrt(s) + eps)


def rmsprop(p, g, state, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
            centered=False):
    g = g + weight_decay * p
    sq = alpha * state.get("sq", np.zeros_like(p)) + (1 - alpha) * g * g
    state["sq"] = sq
    if centered:
        ga = alpha * state.get("ga", np.zeros_like(p)) + (1 - alpha) * g
        state["ga"] = ga
        avg = np.sqrt(sq - ga * ga) + eps
    else:
        avg = np.sqrt(sq) + eps
    if momentum > 0:
        buf = momentum * state.get("buf", np.zeros_like(p)) + g / avg
        state["buf"] = buf
        return p - lr * buf
    return p - lr * g / avg


def adam(p, g, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    b1, b2 = betas
    step = state["step"] = state.get("step", 0) + 1
    g = g + weight_decay * p
    m = b1 * state.get("m", np.zeros_like(p)) + (1 - b1) * g
    v = b2 * state.get("v", np.zeros_like(p)) + (1 - b2) * g * g
    state["m"], state["v"] = m, v
    if amsgrad:
        v = np.maximum(state.get("vmax", np.zeros_like(p)), v)
        state["vmax"] = v
    bc1 = 1 - b1**step
    bc2 = 1 - b2**step
    denom = np.sqrt(v) / np.sqrt(bc2) + eps
    return p - (lr / bc1) * m / denom


# --- networks ----------------------------------------------------------------


def mlp_forward(x, layers):
    """layers: list of (W, b or None, activation name)."""
    a = np.asarray(x, dtype=np.float64)
    for w, b, act in layers:
        z = a @ w + (0 if b is None else b)
        a = activation(act, z)
    return a


def mlp_gradients(x, layers, loss_grad):
    """Backprop through :func:`mlp_forward`'s network: ([(dW, db), …], ∂L/∂x) for the loss
    whose gradient with respect to the output is ``loss_grad(output)``."""
    acts, zs = [np.asarray(x, dtype=np.float64)], []
    for w, b, act in layers:
        zs.append(acts[-1] @ w + (0 if b is None else b))
        acts.append(activation(act, zs[-1]))
    g = loss_grad(acts[-1])
    grads = []
    for (w, _, act), a_in, z in reversed(list(zip(layers, acts[:-1], zs))):
        dz = activation_grad(act, z, g)
        grads.append((a_in.T @ dz, dz.sum(axis=0)))
        g = dz @ w.T
    return grads[::-1], g


def finite_difference(f, x, h=1e-6):
    """Central differences of a scalar f over every element of the float64 array x."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + h
        fp = f()
        x[idx] = orig - h
        fm = f()
        x[idx] = orig
        g[idx] = (fp - fm) / (2 * h)
    return g


# --- batch normalization and dropout ---------------------------------------------------


class BookBatchNormalization:
    """The textbook's BatchNormalization (common/layers.py), step by step as printed."""

    def __init__(self, gamma, beta, momentum=0.9):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean = self.running_var = None

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + 10e-7)
            xn = xc / std
            self.batch_size, self.xc, self.xn, self.std = x.shape[0], xc, xn, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / np.sqrt(self.running_var + 10e-7)
        return self.gamma * xn + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size


def keep_bits(seed, count, index):
    """numbann's dropout generator (two SplitMix64 finalisers) in plain Python integers."""
    m64 = (1 << 64) - 1

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m64
        return z ^ (z >> 31)

    key = mix((seed + count * 0x9E3779B97F4A7C15) & m64)
    return mix((key + index * 0x9E3779B97F4A7C15) & m64) >> 32


def dropout_mask(seed, count, shape, p):
    """The keep mask numbann draws for a (N, C) batch: bits ≥ round(p·2³²)."""
    threshold = int(round(p * 2.0**32))
    n = int(np.prod(shape))
    return np.array([keep_bits(seed, count, e) >= threshold for e in range(n)]).reshape(shape)
