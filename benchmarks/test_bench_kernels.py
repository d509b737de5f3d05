"""Each kernel at the shapes of the two reference networks (batch 100 and 128).

Per network: the hidden activation forward and backward at every hidden
layer, every dense layer's forward (bias and activation fused; identity on
the output layer) and backward (dW, db and dX — dX skipped on the first
layer), the fused softmax + cross-entropy (value and gradient, labels), and
one step of each optimizer over the whole parameter vector.

numbann calls its kernels directly (outputs preallocated); numpy runs the
textbook's layer objects / optimizer classes (reference_numpy); torch its
ops with ``out=`` where they exist, autograd for the loss, ``torch.optim``
over the per-layer parameters; jax one jitted function per kernel (new
output arrays; the optimizers donate their inputs). "yardstick" is the
matrix product of a dense kernel alone. Inputs are seeded random arrays of
the right shapes; every implementation must match the NumPy reference's
output before it is timed.
"""

import numpy as np
import pytest
import reference_numpy as ref
from harness import measure
from workloads import TRAIN_NETS, flat_to_layers, initial_flat
from yardstick import API as YARDSTICK_API

IMPLS = ("numbann", "numpy", "torch", "jax", "yardstick")
API = {"numbann": "kernel, called directly",
       "numpy": "the textbook's layer or optimizer class in NumPy",
       "torch": "torch ops (out= where they exist), autograd for the loss, torch.optim",
       "jax": "one jax.jit function per kernel",
       "yardstick": YARDSTICK_API}
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
OPT_LR = {"sgd": 0.01, "momentum": 0.01, "adagrad": 0.01, "rmsprop": 0.01, "adam": 1e-3}


def cases():
    out = []
    for net in TRAIN_NETS:
        n_layers = len(net.layer_shapes)
        for i in range(n_layers):
            if i < n_layers - 1:  # a hidden layer: it has an activation
                out.append((net, "activation_forward", i))
                out.append((net, "activation_backward", i))
            out.append((net, "dense_forward", i))
            out.append((net, "dense_backward", i))
        out.append((net, "softmax_ce", None))
        for opt in OPTIMIZERS:
            out.append((net, f"optimizer_{opt}", None))
    return out


CASES = cases()


def case_id(case):
    net, kernel, layer = case
    return f"{net.name}-{kernel}" + ("" if layer is None else f"-L{layer + 1}")


class Arrays:
    """Seeded inputs for one case, shared by every implementation."""

    def __init__(self, net, kernel, layer, seed=11):
        rng = np.random.default_rng(seed)
        f32 = np.float32
        self.n = n = net.batch
        self.layers = flat_to_layers(net, initial_flat(net))
        n_layers = len(self.layers)
        if layer is not None:
            a, b = net.layer_shapes[layer]
            self.a, self.b = a, b
            self.act = net.act if layer < n_layers - 1 else "identity"
            self.W = np.ascontiguousarray(self.layers[layer][0])
            self.bias = rng.standard_normal(b).astype(f32) * f32(0.1)
            self.X = (rng.random((n, a), dtype=f32) if layer == 0
                      else rng.standard_normal((n, a)).astype(f32))
            self.Z = (self.X @ self.W + self.bias).astype(f32)  # pre-activation
            self.Y = self.Z.copy()
            if self.act == "sigmoid":
                self.Y = (1 / (1 + np.exp(-self.Z))).astype(f32)
            elif self.act == "relu":
                self.Y = np.maximum(self.Z, 0)
            self.dY = (rng.standard_normal((n, b)) * 0.01).astype(f32)
            self.need_dx = layer > 0
        c = net.sizes[-1]
        self.logits = rng.standard_normal((n, c)).astype(f32)
        self.labels = rng.integers(0, c, n)
        self.P = net.n_params
        self.params = initial_flat(net)
        self.grads = (rng.standard_normal(self.P) * 0.01).astype(f32)


# --- numbann --------------------------------------------------------------------------


def numbann_fn(kernel, d, net):
    from numbann.kernels import activations as act_k
    from numbann.kernels import dense as dense_k
    from numbann.kernels import losses as loss_k
    from numbann.kernels import optim as optim_k

    code = act_k.CODES.get(getattr(d, "act", "identity"))
    if kernel == "activation_forward":
        Y = np.empty_like(d.Z)
        return lambda: (act_k.activation_forward(code, d.Z, Y), Y)[1]
    if kernel == "activation_backward":
        dX = np.empty_like(d.dY)
        return lambda: (act_k.activation_backward(code, d.Y, d.dY, dX), dX)[1]
    if kernel == "dense_forward":
        A = np.empty((d.n, d.b), np.float32)
        return lambda: (dense_k.dense_forward(d.X, d.W, d.bias, code, A), A)[1]
    if kernel == "dense_backward":
        dZ = np.empty_like(d.dY)
        dW, db = np.empty_like(d.W), np.empty_like(d.bias)
        dX = np.empty_like(d.X)

        def run():
            dense_k.dense_backward(d.X, d.W, d.Y, d.dY, code, dZ, dW, db, dX, d.need_dx, False)
            return dW, db, (dX if d.need_dx else None)
        return run
    if kernel == "softmax_ce":
        dZ = np.empty_like(d.logits)
        scale = 1.0 / d.n

        def run():
            loss = loss_k.loss_labels(loss_k.SOFTMAX_CE, d.logits, d.labels, scale, dZ, True)
            return loss, dZ
        return run
    opt = kernel.split("_", 1)[1]
    p = d.params.copy()
    g = d.grads
    lr = OPT_LR[opt]
    s1, s2, s3 = (np.zeros_like(p) for _ in range(3))
    empty = p[:0]
    count = [0]

    def run():
        count[0] += 1
        t = count[0]
        if opt == "sgd":
            optim_k.sgd_step(p, g, empty, lr, 0.0, 0.0, False, 0.0, t == 1)
        elif opt == "momentum":
            optim_k.sgd_step(p, g, s1, lr, 0.9, 0.0, False, 0.0, t == 1)
        elif opt == "adagrad":
            optim_k.adagrad_step(p, g, s1, lr, 0.0, 0.0, 1e-10, t)
        elif opt == "rmsprop":
            optim_k.rmsprop_step(p, g, s1, empty, empty, lr, 0.99, 1e-8, 0.0, 0.0, False)
        else:
            optim_k.adam_step(p, g, s1, s2, s3, lr, 0.9, 0.999, 1e-8, 0.0, t, False)
        return p
    return run


# --- numpy (the textbook's layers) -----------------------------------------------------


def numpy_fn(kernel, d, net):
    act_layer = {"sigmoid": ref.Sigmoid, "relu": ref.Relu}
    if kernel == "activation_forward":
        layer = act_layer[d.act]()
        return lambda: layer.forward(d.Z)
    if kernel == "activation_backward":
        layer = act_layer[d.act]()
        layer.forward(d.Z)
        return lambda: layer.backward(d.dY.copy() if d.act == "relu" else d.dY)
    if kernel == "dense_forward":
        aff = ref.Affine(d.W, d.bias)
        layer = act_layer[d.act]() if d.act != "identity" else None
        return lambda: layer.forward(aff.forward(d.X)) if layer else aff.forward(d.X)
    if kernel == "dense_backward":
        aff = ref.Affine(d.W, d.bias, need_dx=d.need_dx)
        aff.forward(d.X)
        layer = act_layer[d.act]() if d.act != "identity" else None
        if layer:
            layer.forward(d.Z)

        def run():
            dz = layer.backward(d.dY.copy() if d.act == "relu" else d.dY) if layer else d.dY
            dx = aff.backward(dz)
            return aff.dW, aff.db, dx
        return run
    if kernel == "softmax_ce":
        last = ref.SoftmaxWithLoss()

        def run():
            loss = last.forward(d.logits, d.labels)
            return loss, last.backward(1)
        return run
    opt = kernel.split("_", 1)[1]
    flat = d.params.copy()
    params = {}
    grads = {}
    for i, ((w, b), (gw, gb)) in enumerate(zip(flat_to_layers(net, flat),
                                               flat_to_layers(net, d.grads)), start=1):
        params[f"W{i}"], params[f"b{i}"] = w, b
        grads[f"W{i}"], grads[f"b{i}"] = gw, gb
    optimizer = ref.OPTIMIZERS[opt](lr=OPT_LR[opt])
    return lambda: (optimizer.update(params, grads), flat)[1]


# --- torch ------------------------------------------------------------------------------


def torch_fn(kernel, d, net, pt):
    import torch

    T = pt.tensor
    if kernel == "activation_forward":
        Z, Y = T(d.Z), torch.empty(d.Z.shape)
        return lambda: pt.activation_forward(d.act, Z, Y)
    if kernel == "activation_backward":
        Y, dY = T(d.Y), T(d.dY)
        return lambda: pt.activation_backward(d.act, Y, dY)
    if kernel == "dense_forward":
        X, W, b, A = T(d.X), T(d.W), T(d.bias), torch.empty((d.n, d.b))
        return lambda: pt.dense_forward(X, W, b, d.act, A)
    if kernel == "dense_backward":
        X, W, Y, dY = T(d.X), T(d.W), T(d.Y), T(d.dY)
        dW, db, dX = torch.empty(d.W.shape), torch.empty(d.bias.shape), torch.empty(d.X.shape)

        def run():
            pt.dense_backward(X, W, Y, dY, d.act, dW, db, dX, d.need_dx)
            return dW, db, (dX if d.need_dx else None)
        return run
    if kernel == "softmax_ce":
        Zl, t = T(d.logits), T(d.labels)
        return lambda: pt.softmax_ce(Zl, t)
    opt = kernel.split("_", 1)[1]
    flat = T(d.params.copy())
    gflat = T(d.grads)
    params = []
    for (w, b), (gw, gb) in zip(flat_to_layers(net, flat), flat_to_layers(net, gflat)):
        for p, g in ((w, gw), (b, gb)):
            q = torch.nn.Parameter(p)  # shares flat's memory
            q.grad = g
            params.append(q)
    lr = OPT_LR[opt]
    cls = {"sgd": lambda: torch.optim.SGD(params, lr=lr),
           "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9),
           "adagrad": lambda: torch.optim.Adagrad(params, lr=lr),
           "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr),
           "adam": lambda: torch.optim.Adam(params, lr=lr)}[opt]
    optimizer = cls()

    def run():
        optimizer.step()
        return flat
    return run


# --- jax -------------------------------------------------------------------------------


def jax_fn(kernel, d, net, pj):
    import jax

    A = pj.array
    ks = pj.kernels(getattr(d, "act", "identity") if kernel.startswith("dense")
                    or kernel.startswith("activation") else "sigmoid")
    if kernel == "activation_forward":
        Z = A(d.Z)
        return lambda: ks["act_fwd"](Z).block_until_ready()
    if kernel == "activation_backward":
        Y, dY = A(d.Y), A(d.dY)
        return lambda: ks["act_bwd"](Y, dY).block_until_ready()
    fused = getattr(d, "act", "identity") != "identity"
    if kernel == "dense_forward":
        X, W, b = A(d.X), A(d.W), A(d.bias)
        return lambda: ks["dense_fwd"](X, W, b, fused).block_until_ready()
    if kernel == "dense_backward":
        X, W, Y, dY = A(d.X), A(d.W), A(d.Y), A(d.dY)
        return lambda: jax.block_until_ready(ks["dense_bwd"](X, W, Y, dY, fused, d.need_dx))
    if kernel == "softmax_ce":
        Zl, t = A(d.logits), pj.labels(d.labels)
        return lambda: jax.block_until_ready(ks["softmax_ce"](Zl, t))
    opt = kernel.split("_", 1)[1]
    upd, n_state = pj.optimizer_update(opt, OPT_LR[opt])
    import jax.numpy as jnp

    state = {"p": A(d.params), "s": [jnp.zeros(d.P, jnp.float32) for _ in range(n_state)],
             "count": jnp.zeros((), jnp.int32)}
    g = A(d.grads)

    def run():
        out = upd(state["p"], g, *state["s"], state["count"])
        state["p"], state["s"], state["count"] = out[0], list(out[1:-1]), out[-1]
        return jax.block_until_ready(state["p"])
    return run


def yardstick_fn(kernel, d):
    from yardstick import gemm_backward, gemm_forward

    if kernel == "dense_forward":
        out = np.empty((d.n, d.b), np.float32)
        return lambda: (gemm_forward(d.X, d.W, out), out)[1]
    dZ = d.dY
    dW, dX = np.empty_like(d.W), np.empty_like(d.X)
    return lambda: (gemm_backward(d.X, d.W, dZ, dW, dX, d.need_dx), dW)[1]


def as_numpy(x):
    if x is None:
        return None
    if isinstance(x, (tuple, list)):
        return [as_numpy(v) for v in x]
    if hasattr(x, "detach"):
        x = x.detach()
    return np.asarray(x, np.float64)


def assert_same(got, want, what):
    if isinstance(want, list):
        for g, w in zip(got, want):
            assert_same(g, w, what)
        return
    if want is None:
        return
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-6, err_msg=what)


PARAMS = [pytest.param(impl, case, id=f"{impl}-{case_id(case)}")
          for impl in IMPLS for case in CASES
          if impl != "yardstick" or case[1].startswith("dense")]  # no product, no yardstick


@pytest.mark.parametrize(("impl", "case"), PARAMS)
def test_kernel(benchmark, request, impl, case):
    net, kernel, layer = case
    d = Arrays(net, kernel, layer)
    where = f"L{layer + 1} {d.a}x{d.b} {d.act}" if layer is not None else ""
    if kernel.startswith("optimizer"):
        where = f"{d.P} parameters"
    if kernel == "softmax_ce":
        where = f"{d.n}x{net.sizes[-1]} labels"
    shape = f"{d.n}x{d.b}" if kernel.startswith("activation") else ""
    group = f"kernel {net.name} b{net.batch}: {kernel} {where} {shape}".strip()
    info = dict(shapes=list(net.sizes), batch=net.batch, kernel=kernel,
                layer=None if layer is None else layer + 1)
    if kernel.startswith("dense"):
        info["flops"] = 2 * d.n * d.a * d.b * (1 if kernel == "dense_forward"
                                               else (2 if d.need_dx else 1))
    if impl == "yardstick":
        fn = yardstick_fn(kernel, d)
        fn()
        measure(benchmark, fn, group=group, impl=impl, api=API[impl], **info)
        return
    if impl == "numbann":
        fn = numbann_fn(kernel, d, net)
    elif impl == "numpy":
        fn = numpy_fn(kernel, d, net)
    elif impl == "torch":
        fn = torch_fn(kernel, d, net, request.getfixturevalue("torch_peer"))
    else:
        fn = jax_fn(kernel, d, net, request.getfixturevalue("jax_peer"))
    got = as_numpy(fn())  # first call: compile / warm up, and the agreement check
    want = as_numpy(numpy_fn(kernel, Arrays(net, kernel, layer), net)())
    assert_same(got, want, f"{impl} {group}")
    measure(benchmark, fn, group=group, impl=impl, api=API[impl], **info)
