"""CUDA groups: numbann's device kernels, and PyTorch on the same GPU when it has CUDA.

They run only with a real NVIDIA GPU (``numbann._cuda.cuda_status()``; not the
simulator) and skip with the reason otherwise. Data, weights and buffers stay
on the device; every timed call ends with a device synchronisation. Before
timing, the device result must match the NumPy reference.

- ``cuda dense_forward``: the first dense layer of each reference network
  (bias and activation fused) at its batch size;
- ``cuda step``: one whole training step of each reference network on the
  device — forward, fused softmax + cross-entropy, backward, one optimizer
  launch over the flat buffer — as numbann's device engine sequences it.
"""

import numpy as np
import pytest
import reference_numpy as ref
from harness import assert_params_agree, measure
from workloads import TRAIN_NETS, flat_to_layers, initial_flat, synthetic_batch

IMPLS = ("numbann", "torch")
API = {"dense_forward": {"numbann": "kernels.cuda.dense.dense_forward, called directly",
                         "torch": "torch.addmm + activation on the GPU"},
       "step": {"numbann": "numbann's CUDA kernels in the device engine's order",
                "torch": "torch eager step on the GPU"}}


@pytest.fixture(scope="module")
def gpu():
    from numbann._cuda import SIMULATOR, cuda_status

    ok, reason = cuda_status()
    if not ok or SIMULATOR:
        pytest.skip(f"no CUDA GPU: {reason}")
    from numbann._cuda import cuda
    from numbann.kernels import cuda as kernels

    return cuda, kernels


def torch_cuda(request):
    pt = request.getfixturevalue("torch_peer")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("this PyTorch build has no CUDA (a CPU wheel)")
    return pt, torch


@pytest.mark.cuda
@pytest.mark.parametrize("net", TRAIN_NETS, ids=lambda n: n.name)
@pytest.mark.parametrize("impl", IMPLS)
def test_cuda_dense_forward(benchmark, request, gpu, impl, net):
    cuda, K = gpu
    from numbann.kernels.activations import CODES

    x, _ = synthetic_batch(net, net.batch)
    (w, b), = flat_to_layers(net, initial_flat(net))[:1]
    w, b = np.ascontiguousarray(w), np.ascontiguousarray(b)
    want = ref.ACTIVATIONS[net.act]().forward(x @ w + b)
    group = f"cuda dense_forward {net.name} L1 {w.shape[0]}x{w.shape[1]} {net.act} b{net.batch}"
    if impl == "numbann":
        X, W, B = cuda.to_device(x), cuda.to_device(w), cuda.to_device(b)
        A = cuda.device_array((net.batch, w.shape[1]), np.float32)

        def fn():
            K.dense.dense_forward(X, W, B, CODES[net.act], A)
            cuda.synchronize()
            return A
        got = fn().copy_to_host()
    else:
        pt, torch = torch_cuda(request)
        dev = torch.device("cuda")
        X, W, B = (torch.from_numpy(a).to(dev) for a in (x, w, b))
        A = torch.empty((net.batch, w.shape[1]), device=dev)

        def fn():
            pt.dense_forward(X, W, B, net.act, A)
            torch.cuda.synchronize()
            return A
        got = fn().cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    measure(benchmark, fn, group=group, impl=impl, api=API["dense_forward"][impl], device="cuda",
            flops=2 * net.batch * w.shape[0] * w.shape[1])


def numbann_device_step(cuda, K, net, flat, x, t):
    """One device training step of *net* with numbann's CUDA kernels; returns (step, params)."""
    from numbann.kernels import losses as loss_k
    from numbann.kernels.activations import CODES, IDENTITY

    n = x.shape[0]
    P = cuda.to_device(flat.copy())
    G = cuda.device_array(flat.shape, np.float32)
    M = cuda.to_device(np.zeros_like(flat))
    V = cuda.to_device(np.zeros_like(flat))
    X, T = cuda.to_device(x), cuda.to_device(t.astype(np.int64))
    rows = cuda.device_array(n, np.float32)
    layers, off = [], 0
    for i, (a, b) in enumerate(net.layer_shapes):
        W, dW = P[off:off + a * b].reshape((a, b)), G[off:off + a * b].reshape((a, b))
        B, dB = P[off + a * b:off + (a + 1) * b], G[off + a * b:off + (a + 1) * b]
        off += (a + 1) * b
        act = CODES[net.act] if i < len(net.layer_shapes) - 1 else IDENTITY
        layers.append((W, B, dW, dB, act, cuda.device_array((n, b), np.float32),
                       cuda.device_array((n, b), np.float32)))
    count = [0]

    def step():
        count[0] += 1
        h = X
        for W, B, _, _, act, A, _ in layers:
            K.dense.dense_forward(h, W, B, act, A)
            h = A
        last = layers[-1]
        K.losses.loss_labels(loss_k.SOFTMAX_CE, last[5], T, 1.0 / n, last[6], True, rows)
        for i in range(len(layers) - 1, -1, -1):
            W, B, dW, dB, act, A, dA = layers[i]
            inp = X if i == 0 else layers[i - 1][5]
            dX = layers[i - 1][6] if i > 0 else dA
            K.dense.dense_backward(inp, W, A, dA, act, dA, dW, dB, dX, i > 0, False)
        if net.opt == "sgd":
            K.optim.sgd_step(P, G, None, net.lr, 0.0, 0.0, False, 0.0, count[0] == 1)
        else:
            K.optim.adam_step(P, G, M, V, None, net.lr, 0.9, 0.999, 1e-8, 0.0, count[0], False)
        cuda.synchronize()
    return step, P


@pytest.mark.cuda
@pytest.mark.parametrize("net", TRAIN_NETS, ids=lambda n: n.name)
@pytest.mark.parametrize("impl", IMPLS)
def test_cuda_step(benchmark, request, gpu, mnist_data, impl, net):
    cuda, K = gpu
    (x_train, t_train), _ = mnist_data
    x, t = x_train[:net.batch].copy(), t_train[:net.batch].copy()
    flat = initial_flat(net)
    tr = ref.Trainer(net, flat)
    tr.step(x, t)
    group = f"cuda step {net.label}"
    if impl == "numbann":
        fn, P = numbann_device_step(cuda, K, net, flat, x, t)
        fn()
        got = P.copy_to_host()
    else:
        pt, torch = torch_cuda(request)
        dev = torch.device("cuda")
        trainer = pt.Trainer(net, flat)
        trainer.model.to(dev)
        trainer.opt = pt.build_optimizer(net, trainer.model)
        X, T = torch.from_numpy(x).to(dev), torch.from_numpy(t).to(dev)

        def fn():
            trainer.step(X, T)
            torch.cuda.synchronize()
        fn()
        trainer.model.cpu()
        got = trainer.flat()
        trainer.model.to(dev)
    assert_params_agree(got, tr.flat, net, 1, f"{impl} {group}")
    measure(benchmark, fn, group=group, impl=impl, api=API["step"][impl], device="cuda",
            batch=net.batch, shapes=list(net.sizes))
