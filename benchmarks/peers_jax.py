"""JAX doing the same work, written the way a JAX user writes it.

Parameters are a list of (W, b) pairs (W (in, out), as numbann); the loss is
softmax cross-entropy through ``jax.nn.logsumexp``; gradients come from
``jax.value_and_grad``; SGD and Adam (torch.optim's rule) are written out as
pytree updates, the way optax would compute them. Two forms of training,
both timed (harness.LIBRARIES):

* "jax", JAX's strongest form: a whole epoch (or a run of steps) is one
  jitted ``lax.scan`` over the batch indices, gathering each batch inside the
  compiled code (a last partial batch is one more step inside the same
  compiled function) — :data:`SCAN_API`;
* "jax-step": a Python loop of jitted steps, the old parameters and optimizer
  state donated (updated in place), each step gathering its batch inside the
  compiled code from index arrays prepared before the loop — :data:`STEP_API`.

Every timed call waits for its results (``block_until_ready``); compilation
happens in the untimed warm-up call. JAX's CPU backend flushes subnormal
floats to zero by default. Import only when JAX is installed (``JAX_MISSING``).
"""

import importlib.util
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
from workloads import ADAM, flat_to_layers, layers_to_flat  # noqa: E402

JAX_MISSING = (None if importlib.util.find_spec("jax") else
               "JAX is not installed (pip install 'numbann[bench]')")

if JAX_MISSING is None:
    import jax
    import jax.numpy as jnp
    from jax import lax

    VERSION = jax.__version__


SCAN_API = "jax lax.scan, one jitted call"
STEP_API = "jax.jit step (donated buffers)"


def _act(name):
    return jax.nn.sigmoid if name == "sigmoid" else jax.nn.relu


def forward(params, x, act, softmax_out=False):
    h = x
    f = _act(act)
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = f(h)
    return jax.nn.softmax(h, axis=1) if softmax_out else h


def loss_fn(params, x, t, act):
    logits = forward(params, x, act)
    lse = jax.nn.logsumexp(logits, axis=1)
    return jnp.mean(lse - jnp.take_along_axis(logits, t[:, None], axis=1)[:, 0])


def init_state(net, params):
    if net.opt == "sgd":
        return ()
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return (zeros, jax.tree_util.tree_map(jnp.zeros_like, params), jnp.zeros((), jnp.int32))


def make_update(net):
    lr = net.lr
    if net.opt == "sgd":
        def update(params, state, grads):
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), state
        return update
    b1, b2, eps = ADAM["beta1"], ADAM["beta2"], ADAM["eps"]

    def update(params, state, grads):
        m, v, count = state
        count = count + 1
        c = count.astype(jnp.float32)
        step_size = lr / (1 - b1 ** c)
        inv_bc2 = 1 / jnp.sqrt(1 - b2 ** c)
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - step_size * m / (jnp.sqrt(v) * inv_bc2 + eps), params, m, v)
        return params, (m, v, count)
    return update


def make_step(net):
    update = make_update(net)

    def step(params, state, x, t):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, t, net.act)
        params, state = update(params, state, grads)
        return params, state, loss
    return step


class Trainer:
    def __init__(self, net, flat):
        self.net = net
        self.params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in flat_to_layers(net, flat)]
        self.state = init_state(net, self.params)
        self._step_fn = make_step(net)
        self._step = jax.jit(self._step_fn, donate_argnums=(0, 1))
        step = self._step_fn

        def step_at(params, state, X, T, idx):
            return step(params, state, jnp.take(X, idx, axis=0), jnp.take(T, idx, axis=0))
        self._step_at = jax.jit(step_at, donate_argnums=(0, 1))
        self._epochs = {}

    def step(self, x, t):
        """One jitted step on device arrays x, t; waits for the new parameters."""
        self.params, self.state, loss = self._step(self.params, self.state, x, t)
        jax.block_until_ready((self.params, loss))
        return loss

    @staticmethod
    def batch_indices(order, batch):
        """The index array of each batch of an epoch over *order*, on the device: what a
        jit-step loop iterates over (prepared once, before the loop)."""
        order = np.asarray(order)
        return [jnp.asarray(order[s:s + batch].astype(np.int32))
                for s in range(0, order.shape[0], batch)]

    def step_loop(self, X, T, batches):
        """One epoch as a Python loop of jitted steps, each gathering its batch of X, T
        (device arrays) by an index array of *batches*; waits for the last."""
        params, state, loss = self.params, self.state, None
        for idx in batches:
            params, state, loss = self._step_at(params, state, X, T, idx)
        self.params, self.state = params, state
        jax.block_until_ready((params, loss))
        return float(loss)

    def _epoch_fn(self, n, batch):
        key = (n, batch)
        if key not in self._epochs:
            full, rest = divmod(n, batch)
            step = self._step_fn

            def epoch(params, state, X, T, order):
                def body(carry, idx):
                    p, s = carry
                    p, s, loss = step(p, s, jnp.take(X, idx, axis=0), jnp.take(T, idx, axis=0))
                    return (p, s), loss
                idx_full = order[:full * batch].reshape(full, batch)
                (params, state), losses = lax.scan(body, (params, state), idx_full)
                loss = losses[-1]
                if rest:
                    idx = order[full * batch:]
                    params, state, loss = step(params, state, jnp.take(X, idx, axis=0),
                                               jnp.take(T, idx, axis=0))
                return params, state, loss
            self._epochs[key] = jax.jit(epoch, donate_argnums=(0, 1))
        return self._epochs[key]

    def epoch(self, X, T, order, batch):
        """One epoch over X[order] (device arrays) in one compiled call."""
        fn = self._epoch_fn(int(order.shape[0]), int(batch))
        self.params, self.state, loss = fn(self.params, self.state, X, T, order)
        jax.block_until_ready((self.params, loss))
        return float(loss)

    def flat(self):
        return layers_to_flat([(np.asarray(w), np.asarray(b)) for w, b in self.params])


def array(a):
    return jnp.asarray(np.asarray(a))


def labels(t):
    return jnp.asarray(np.asarray(t, np.int32))


class Predictor:
    """Inference: a jitted forward pass called per batch (one call for one batch)."""

    def __init__(self, net, flat):
        self.params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in flat_to_layers(net, flat)]
        self._fwd = jax.jit(lambda p, x: forward(p, x, net.act, net.output == "softmax"))

    def __call__(self, x, batch):
        if batch >= x.shape[0]:
            return jax.block_until_ready(self._fwd(self.params, x))
        outs = [self._fwd(self.params, x[s:s + batch]) for s in range(0, x.shape[0], batch)]
        return jax.block_until_ready(jnp.concatenate(outs))


# --- kernels ---------------------------------------------------------------------


def kernels(act):
    """Jitted functions for the kernel groups (each returns new arrays)."""
    f = _act(act)
    if act == "sigmoid":
        def act_bwd(y, dy):
            return dy * y * (1 - y)
    else:
        def act_bwd(y, dy):
            return jnp.where(y > 0, dy, 0)

    def dense_fwd(x, w, b, fused):
        z = x @ w + b
        return f(z) if fused else z

    def dense_bwd(x, w, y, dy, fused, need_dx):
        dz = act_bwd(y, dy) if fused else dy
        dx = dz @ w.T if need_dx else None
        return x.T @ dz, dz.sum(axis=0), dx

    def ce(z, t):
        lse = jax.nn.logsumexp(z, axis=1)
        return jnp.mean(lse - jnp.take_along_axis(z, t[:, None], axis=1)[:, 0])

    return {
        "act_fwd": jax.jit(f),
        "act_bwd": jax.jit(act_bwd),
        "dense_fwd": jax.jit(dense_fwd, static_argnums=(3,)),
        "dense_bwd": jax.jit(dense_bwd, static_argnums=(4, 5)),
        "softmax_ce": jax.jit(jax.value_and_grad(ce)),
    }


def optimizer_update(kind, lr):
    """A jitted (p, g, *state) → (p, *state) update on flat arrays, inputs donated.

    torch.optim's rules and defaults (Momentum 0.9; Adagrad eps 1e-10;
    RMSprop alpha 0.99, eps 1e-8; Adam betas (0.9, 0.999), eps 1e-8)."""
    if kind == "sgd":
        def upd(p, g, count):
            return p - lr * g, count + 1
    elif kind == "momentum":
        def upd(p, g, buf, count):
            buf = jnp.where(count == 0, g, 0.9 * buf + g)
            return p - lr * buf, buf, count + 1
    elif kind == "adagrad":
        def upd(p, g, h, count):
            h = h + g * g
            return p - lr * g / (jnp.sqrt(h) + 1e-10), h, count + 1
    elif kind == "rmsprop":
        def upd(p, g, s, count):
            s = 0.99 * s + 0.01 * g * g
            return p - lr * g / (jnp.sqrt(s) + 1e-8), s, count + 1
    else:
        def upd(p, g, m, v, count):
            count = count + 1
            c = count.astype(jnp.float32)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            step_size = lr / (1 - 0.9 ** c)
            return p - step_size * m / (jnp.sqrt(v) / jnp.sqrt(1 - 0.999 ** c) + 1e-8), m, v, count
    n_state = {"sgd": 0, "momentum": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}[kind]
    donate = (0,) + tuple(range(2, 2 + n_state + 1))
    return jax.jit(upd, donate_argnums=donate), n_state


sgemm = None
if JAX_MISSING is None:
    sgemm = jax.jit(jnp.dot)
