"""The work every implementation in a benchmark group does: networks, data, weights, orders.

Everything here is plain NumPy and deterministic, so that numbann, the NumPy
reference, PyTorch and JAX start from the same float32 weights, see the same
images and visit the mini-batches in the same order.

Conventions (numbann's, the textbook's):

* a network is a list of layer widths ``sizes = (784, 50, 10)``; layer ``l``
  has a weight ``W_l`` of shape ``(sizes[l], sizes[l+1])`` (``y = x @ W + b``)
  and a bias ``b_l``; the hidden activation is ``net.act`` and the output is
  linear (logits) followed by softmax + cross-entropy with integer labels;
* the flat parameter vector is ``W_1, b_1, W_2, b_2, …`` row-major — exactly
  ``numbann.Sequential.flat_parameters`` — so ``flat_to_layers`` and
  ``layers_to_flat`` move weights between implementations.

Adding a network to the epoch groups — the 784-256-128-10 Adam epoch with
BatchNorm1d after each hidden Linear that issue 15 asks for, once
``numbann.BatchNorm1d`` exists — takes these steps, one place each:

1. here: ``NET_B_BN = replace(NET_B, key="B-BN", norm="batchnorm")`` (its
   label gains "+bn", which the report's targets look for: "a batch-norm
   layer adds at most 15% to the epoch", see report.targets), appended to
   :data:`EPOCH_NETS`; give the flat vector the layers' γ/β after each hidden
   layer's b, in the order of ``Sequential.flat_parameters``, in
   :func:`initial_flat` (γ = 1, β = 0) and :func:`flat_to_layers`;
2. a BatchNorm layer (PyTorch's convention: batch statistics, biased
   variance, eps 1e-5) in reference_numpy.Network and in each
   implementation's builder (impl_numbann.build_model,
   peers_torch.build_model, peers_jax.forward). Until then the weight
   functions here and impl_numbann.build_model refuse a ``norm``
   (:func:`plain_only`), so that no implementation times a plain network in
   its place;
3. nothing else: the epoch group, its yardstick (the same matrix products),
   the agreement check, one process per library and the report pick it up.
"""

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

DTYPE = np.float32
SEED = 0


@dataclass(frozen=True)
class Net:
    """A reference network with its training recipe."""

    key: str
    sizes: tuple
    act: str  # hidden activation: 'sigmoid' or 'relu'
    opt: str  # 'sgd' or 'adam'
    lr: float
    batch: int
    init: object  # std of a normal init (float) or 'he'
    output: str = "logits"  # 'logits' (training nets) or 'softmax' (inference net)
    norm: object = None  # a normalization after each hidden Linear: None or 'batchnorm'
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self):
        return "-".join(str(s) for s in self.sizes)

    @property
    def label(self):
        act = self.act + ("+bn" if self.norm == "batchnorm" else "")
        return f"{self.name} {act} {self.opt.upper()} b{self.batch}"

    @property
    def n_params(self):
        return sum((a + 1) * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def layer_shapes(self):
        return list(zip(self.sizes[:-1], self.sizes[1:]))


#: the textbook's TwoLayerNet recipe (chapter 5): sigmoid, SGD lr 0.1, batch 100,
#: weights N(0, 0.01²), biases 0
NET_A = Net("A", (784, 50, 10), "sigmoid", "sgd", 0.1, 100, 0.01)
#: a deeper ReLU network trained with Adam (torch's defaults), He init
NET_B = Net("B", (784, 256, 128, 10), "relu", "adam", 1e-3, 128, "he")
#: the textbook's inference network (chapter 3, sample_weight.pkl's shapes):
#: sigmoid, sigmoid, softmax
NET_INFER = Net("I", (784, 50, 100, 10), "sigmoid", "sgd", 0.0, 100, "xavier",
                output="softmax")
TRAIN_NETS = (NET_A, NET_B)
#: the networks of the epoch groups (see the module docstring to add one)
EPOCH_NETS = TRAIN_NETS
#: the network of the tutorial loop in issue 13 (64-32-16-10 ReLU on the 8x8 digits, SGD
#: lr 0.01): a batch-1 step of it is almost all per-step overhead
NET_TINY = Net("T", (64, 32, 16, 10), "relu", "sgd", 0.01, 1, "he")

#: Adam's hyperparameters (torch.optim.Adam's defaults; numbann's too)
ADAM = dict(beta1=0.9, beta2=0.999, eps=1e-8)


# --- weights -------------------------------------------------------------------


def plain_only(net, who):
    """Refuse a network with a layer *who* does not build yet (see the module docstring)."""
    if net.norm is not None:
        raise NotImplementedError(f"{who} builds no {net.norm!r} layer yet "
                                  f"(benchmarks/workloads.py says where it goes)")


def initial_flat(net, seed=SEED):
    """The initial flat float32 parameter vector of *net* (W1, b1, W2, b2, …)."""
    plain_only(net, "workloads.initial_flat")
    rng = np.random.default_rng(seed)
    parts = []
    for fan_in, fan_out in net.layer_shapes:
        if net.init == "he":
            std = np.sqrt(2.0 / fan_in)
        elif net.init == "xavier":
            std = np.sqrt(1.0 / fan_in)
        else:
            std = float(net.init)
        parts.append((std * rng.standard_normal((fan_in, fan_out))).reshape(-1))
        parts.append(np.zeros(fan_out))
    return np.concatenate(parts).astype(DTYPE)


def flat_to_layers(net, flat):
    """[(W, b), …] as views of *flat* (W (in, out), b (out,))."""
    plain_only(net, "workloads.flat_to_layers")
    out, off = [], 0
    for fan_in, fan_out in net.layer_shapes:
        w = flat[off:off + fan_in * fan_out].reshape(fan_in, fan_out)
        off += fan_in * fan_out
        b = flat[off:off + fan_out]
        off += fan_out
        out.append((w, b))
    return out


def layers_to_flat(layers):
    """Concatenate [(W, b), …] (any array-likes) into one flat float32 vector."""
    return np.concatenate([np.concatenate([np.asarray(w, DTYPE).reshape(-1),
                                           np.asarray(b, DTYPE).reshape(-1)])
                           for w, b in layers])


# --- data ----------------------------------------------------------------------


def data_dir():
    """Where MNIST lies: $NUMBANN_DATA/mnist, else ../shared/data/mnist beside the checkout."""
    env = os.environ.get("NUMBANN_DATA")
    if env:
        return Path(env) / "mnist"
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def mnist_available():
    return (data_dir() / "train-images-idx3-ubyte.gz").exists()


@lru_cache(maxsize=1)
def mnist():
    """((x_train, t_train), (x_test, t_test)): float32 (N, 784) in [0, 1], int64 labels.

    Read from the local directory only (never downloaded by the benchmarks). The
    arrays are shared by every implementation (writeable, so that no library
    copies them defensively); nobody writes to them.
    """
    from numbann.datasets import load_mnist

    (x, t), (xt, tt) = load_mnist(data_dir=data_dir(), download=False)
    return (x, t), (xt, tt)


def synthetic_batch(net, n, seed=1):
    """(x (n, sizes[0]) float32 in [0, 1), labels (n,) int64) for kernel benchmarks."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, net.sizes[0]), dtype=DTYPE)
    t = rng.integers(0, net.sizes[-1], n)
    return x, t


def epoch_order(n, seed=SEED):
    """The visiting order of one epoch: a permutation of range(n), the same for all."""
    return np.random.default_rng(seed).permutation(n)


def batch_slices(n, batch):
    """[(start, stop), …] covering range(n) in batches; the last may be partial."""
    return [(s, min(s + batch, n)) for s in range(0, n, batch)]


# --- floating-point work ----------------------------------------------------------


def step_flops(net, n):
    """Multiply-add flops (2·m·n·k) of the matrix products of one training step on n rows:
    forward X@W for every layer, dW = Xᵀ@dZ for every layer, dX = dZ@Wᵀ for every layer
    but the first."""
    total = 0
    for i, (a, b) in enumerate(net.layer_shapes):
        total += 2 * n * a * b  # forward
        total += 2 * n * a * b  # dW
        if i > 0:
            total += 2 * n * a * b  # dX
    return total


def forward_flops(net, n):
    return sum(2 * n * a * b for a, b in net.layer_shapes)


def epoch_flops(net, n_images):
    return sum(step_flops(net, e - s) for s, e in batch_slices(n_images, net.batch))
