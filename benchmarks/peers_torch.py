"""PyTorch doing the same work, written the way a PyTorch user writes it.

``nn.Sequential`` of ``nn.Linear`` + activations, ``nn.CrossEntropyLoss``,
``torch.optim.SGD``/``Adam`` with their default (CPU) implementations, the
usual ``zero_grad(); loss.backward(); step()`` loop, ``torch.inference_mode``
for inference. Weights are copied in from the shared flat vector (torch
stores a Linear's weight transposed, (out, in)). Data arrays are shared with
NumPy through ``torch.from_numpy`` (no copy). Import this module only when
torch is installed (``TORCH_MISSING`` tells the benchmarks why not).
"""

import importlib.util

import numpy as np
from workloads import ADAM, flat_to_layers, layers_to_flat

TORCH_MISSING = (None if importlib.util.find_spec("torch") else
                 "PyTorch is not installed (pip install 'numbann[bench]')")

if TORCH_MISSING is None:
    import torch
    from torch import nn

    VERSION = torch.__version__

#: what the training benchmarks time (PyTorch's defaults: subnormal floats not flushed)
API = "torch eager: zero_grad, loss.backward(), optimizer.step()"


def tensor(a):
    """A torch view of a NumPy array (read-only arrays are copied once)."""
    a = np.asarray(a)
    if not a.flags.writeable:
        a = a.copy()
    return torch.from_numpy(np.ascontiguousarray(a))


def build_model(net, flat):
    acts = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}
    mods = []
    for i, (w, b) in enumerate(flat_to_layers(net, flat)):
        lin = nn.Linear(*w.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            lin.bias.copy_(torch.from_numpy(np.array(b)))
        mods.append(lin)
        if i < len(net.layer_shapes) - 1:
            mods.append(acts[net.act]())
    if net.output == "softmax":
        mods.append(nn.Softmax(dim=1))
    return nn.Sequential(*mods)


def build_optimizer(net, model):
    if net.opt == "sgd":
        return torch.optim.SGD(model.parameters(), lr=net.lr)
    return torch.optim.Adam(model.parameters(), lr=net.lr, betas=(ADAM["beta1"], ADAM["beta2"]),
                            eps=ADAM["eps"])


class Trainer:
    def __init__(self, net, flat):
        self.net = net
        self.model = build_model(net, flat)
        self.loss_fn = nn.CrossEntropyLoss()
        self.opt = build_optimizer(net, self.model)

    def step(self, x, t):
        """One step on torch tensors x (float32), t (int64); returns the loss tensor."""
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(x), t)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def epoch(self, x, t, order, batch):
        """One epoch over x[order] (torch tensors; order int64) in mini-batches."""
        loss = None
        for s in range(0, order.shape[0], batch):
            idx = order[s:s + batch]
            loss = self.step(x[idx], t[idx])
        return float(loss)

    def flat(self):
        lins = [m for m in self.model if isinstance(m, nn.Linear)]
        return layers_to_flat([(m.weight.detach().numpy().T, m.bias.detach().numpy())
                               for m in lins])


def predict(model, x, batch):
    """Inference over x (a tensor) in batches; returns a NumPy array."""
    with torch.inference_mode():
        if batch >= x.shape[0]:
            return model(x).numpy()
        return torch.cat([model(x[s:s + batch]) for s in range(0, x.shape[0], batch)]).numpy()


# --- kernels ---------------------------------------------------------------------


def activation_forward(act, x, out):
    if act == "sigmoid":
        return torch.sigmoid(x, out=out)
    return torch.clamp_min(x, 0, out=out)  # torch.relu has no out= variant


def activation_backward(act, y, dy):
    if act == "sigmoid":
        return torch.ops.aten.sigmoid_backward(dy, y)
    return torch.ops.aten.threshold_backward(dy, y, 0)


def dense_forward(x, w, b, act, out):
    """out = f(x @ w + b) with w (in, out) as numbann stores it."""
    torch.addmm(b, x, w, out=out)
    if act == "sigmoid":
        out.sigmoid_()
    elif act == "relu":
        out.relu_()
    return out


def dense_backward(x, w, y, dy, act, dw, db, dx, need_dx):
    dz = activation_backward(act, y, dy) if act != "identity" else dy
    torch.mm(x.T, dz, out=dw)
    torch.sum(dz, 0, out=db)
    if need_dx:
        torch.mm(dz, w.T, out=dx)


def softmax_ce(z, t):
    """(loss, ∂loss/∂z) of nn.functional.cross_entropy by autograd."""
    z = z.detach().requires_grad_(True)
    loss = nn.functional.cross_entropy(z, t)
    (g,) = torch.autograd.grad(loss, z)
    return loss, g


def optimizer(kind, param, grad, lr):
    """A torch.optim optimizer over one flat Parameter whose .grad is *grad*."""
    p = nn.Parameter(param)
    p.grad = grad
    if kind == "sgd":
        return torch.optim.SGD([p], lr=lr)
    if kind == "momentum":
        return torch.optim.SGD([p], lr=lr, momentum=0.9)
    if kind == "adagrad":
        return torch.optim.Adagrad([p], lr=lr)
    if kind == "rmsprop":
        return torch.optim.RMSprop([p], lr=lr)
    return torch.optim.Adam([p], lr=lr)


def sgemm(a, b, c):
    torch.mm(a, b, out=c)
