"""The physical yardstick: the matrix products of a workload alone, through the same BLAS.

numbann's compiled code calls BLAS through Numba's ``np.dot`` (SciPy's
OpenBLAS). These functions run exactly the matrix products of a training
step, an epoch or an inference pass — the same shapes, in the same order,
on the same data — through that same ``np.dot``, and nothing else: no bias,
no activation, no loss, no optimizer, no batch gather. No implementation of
the full workload can beat it by much; "ratio to yardstick" in RESULTS.md is
an implementation's time divided by this one.

``peak_sgemm`` is one large square float32 product, the machine's practical
peak GEMM rate through that BLAS.
"""

import numpy as np
from numba import njit, prange

#: what the yardstick entries time
API = "matrix products alone: Numba np.dot → SciPy's OpenBLAS"


@njit(cache=True)
def _offsets(dims, m):
    """Offsets of each layer's (m, dims[l+1]) block in a flat activation buffer."""
    n_layers = dims.size - 1
    off = np.zeros(n_layers + 1, np.int64)
    for l in range(n_layers):
        off[l + 1] = off[l] + m * dims[l + 1]
    return off


@njit(cache=True)
def gemm_pass(X, params, grads, w_off, dims, batch, backward, acts, deltas):
    """The matrix products of one pass over X in mini-batches of *batch* rows.

    Per batch Xb (m rows): forward A_l = A_{l−1} @ W_l for every layer; with
    *backward* also dW_l = A_{l−1}ᵀ @ dZ_l for every layer and
    dA_{l−1} = dZ_l @ W_lᵀ for every layer but the first — the products of a
    training step (numbann skips the first layer's dX, as do all peers).
    *acts*/*deltas* are flat scratch of at least batch·Σ dims[1:] elements
    (deltas holding finite values); weights W_l are views of *params* at
    w_off[l], gradients of *grads* at the same offsets.
    """
    n = X.shape[0]
    n_layers = dims.size - 1
    for s in range(0, n, batch):
        e = min(s + batch, n)
        m = e - s
        off = _offsets(dims, m)
        for l in range(n_layers):
            W = params[w_off[l]:w_off[l] + dims[l] * dims[l + 1]].reshape((dims[l], dims[l + 1]))
            A = acts[off[l]:off[l + 1]].reshape((m, dims[l + 1]))
            if l == 0:
                np.dot(X[s:e], W, A)
            else:
                np.dot(acts[off[l - 1]:off[l]].reshape((m, dims[l])), W, A)
        if backward:
            for l in range(n_layers - 1, -1, -1):
                W = params[w_off[l]:w_off[l] + dims[l] * dims[l + 1]].reshape(
                    (dims[l], dims[l + 1]))
                dW = grads[w_off[l]:w_off[l] + dims[l] * dims[l + 1]].reshape(
                    (dims[l], dims[l + 1]))
                dZ = deltas[off[l]:off[l + 1]].reshape((m, dims[l + 1]))
                if l == 0:
                    np.dot(X[s:e].T, dZ, dW)
                else:
                    np.dot(acts[off[l - 1]:off[l]].reshape((m, dims[l])).T, dZ, dW)
                    np.dot(dZ, W.T, deltas[off[l - 1]:off[l]].reshape((m, dims[l])))


@njit(cache=True)
def gemm_forward(X, W, A):
    """A = X @ W alone (the product inside a dense layer's forward)."""
    np.dot(X, W, A)


@njit(cache=True)
def gemm_backward(X, W, dZ, dW, dX, need_dx):
    """dW = Xᵀ @ dZ and, if need_dx, dX = dZ @ Wᵀ (the products of a dense backward)."""
    np.dot(X.T, dZ, dW)
    if need_dx:
        np.dot(dZ, W.T, dX)


@njit(cache=True)
def sgemm(A, B, C):
    np.dot(A, B, C)


class GemmWorkload:
    """The products of a network's step / epoch / inference on given data, ready to time.

    ``run()`` performs them; ``flops`` counts 2·m·n·k over all of them.
    """

    def __init__(self, net, x, batch, backward, seed=3):
        from dataclasses import replace

        from workloads import epoch_flops, forward_flops, initial_flat

        net = replace(net, norm=None)  # normalization layers add no matrix product
        self.x = np.ascontiguousarray(x, np.float32)
        self.params = initial_flat(net)
        self.grads = np.zeros_like(self.params)
        offs, off = [], 0
        for a, b in net.layer_shapes:
            offs.append(off)
            off += (a + 1) * b
        self.w_off = np.array(offs, np.int64)
        self.dims = np.array(net.sizes, np.int64)
        self.batch = int(batch)
        self.backward = bool(backward)
        width = batch * int(sum(net.sizes[1:]))
        rng = np.random.default_rng(seed)
        self.acts = np.zeros(width, np.float32)
        self.deltas = (rng.standard_normal(width) * 1e-2).astype(np.float32)
        n = self.x.shape[0]
        if backward:
            self.flops = epoch_flops(replace(net, batch=self.batch), n)
        else:
            self.flops = sum(forward_flops(net, min(batch, n - s)) for s in range(0, n, batch))

    def run(self):
        gemm_pass(self.x, self.params, self.grads, self.w_off, self.dims, self.batch,
                  self.backward, self.acts, self.deltas)


def peak_sgemm_arrays(n, seed=4):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return a, b, np.empty((n, n), np.float32)


@njit(cache=True, parallel=True)
def parallel_probe(n):
    """Σ_{i<n} i by prange: run once to make Numba choose its threading layer."""
    total = 0
    for i in prange(n):
        total += i
    return total


@njit(cache=True, nogil=True)
def vector_work(y, passes):
    """*passes* times eight steps of v ← 0.999·v + 0.5 on every element of a float32 array
    small enough for L1: vector multiplies and adds back to back, as fast as the core's
    execution units take them (IEEE order kept, so nothing folds away)."""
    a, b = np.float32(0.999), np.float32(0.5)
    for _ in range(passes):
        for i in range(y.size):
            v = y[i]
            for _ in range(8):
                v = a * v + b
            y[i] = v


@njit(cache=True, nogil=True)
def chain_work(n):
    """n dependent scalar multiply-adds: each waits for the last, the units mostly idle."""
    s = 1.0
    for _ in range(n):
        s = s * 1.0000001 + 1e-9
    return s
