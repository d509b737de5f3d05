"""CUDA kernels: ``@cuda.jit`` twins of :mod:`numbann.kernels` and their launch wrappers.

Modules mirror the CPU ones — :mod:`.activations`, :mod:`.dense`,
:mod:`.losses`, :mod:`.norm`, :mod:`.optim`, :mod:`.engine` — plus :mod:`.reduce` (sums
and accuracy counts kept on the device), :mod:`.gather` (mini-batch gather
by a permutation) and :mod:`.memory`. Every wrapper has the CPU kernel's
name and arguments, takes C-contiguous Numba device arrays (views of a flat
parameter buffer work) and an optional ``stream``, picks the launch
configuration from :mod:`numbann._config` and only launches: nothing
synchronises except the functions that return a host value
(:func:`.reduce.fetch_sum`, :func:`.reduce.total`, :func:`.losses.loss_total`).
Arrays of other GPU libraries (CuPy, PyTorch CUDA tensors: anything with
``__cuda_array_interface__`` that is not a Numba device array) are not taken
as they are — their ``.size``, ``.dtype`` and slicing differ —;
``numba.cuda.as_cuda_array(x)`` wraps one as a Numba device array without a
copy, and the object layer refuses them with a TypeError saying so
(:mod:`numbann.device`).

A device training step (:mod:`.engine`) is::

    gather_batch(X, T, order[lo:lo + n], Xb, Tb)                  # 1 launch
    for each layer l: dense_forward(A[l-1], W[l], b[l], act[l], A[l])   # 1 each
    loss_dense(code, A[L], Tb, scale, dA[L], True, rows, hits=…)  # 1: loss, dY, hits
    for each layer l, last first:                                 # 1 each
        dense_backward(A[l-1], W[l], A[l], dA[l], act[l], dA[l], dW[l], db[l],
                       dA[l-1], l > 1, False)
    optimizer_step(hyper, params, grads, state, step)             # 1, flat buffers

(with identity as the last layer's activation when the loss is the fused
softmax + CE; softmax as an activation costs one more launch each way). A
batch norm adds one launch each way (:mod:`.norm`: statistics,
normalization, activation, running update and dropout in one; the mask, f'
and the batch-norm backward in one), and so does a dropout layer without a
batch norm before it.
Importing this package needs Numba's CUDA target (``pip install
"numbann[cuda]"``) but no GPU: the kernels compile on first launch, or when
the engine prepares a step (:func:`.engine.prepare`), and
:func:`numba.cuda.compile_ptx` compiles them without a GPU (see
``signatures(dtype)`` in each module).
"""

from ..._cuda import CudaUnavailableError, cuda

if cuda is None:  # pragma: no cover - depends on the installation
    raise CudaUnavailableError(
        "numbann.kernels.cuda needs Numba's CUDA target: pip install 'numbann[cuda]'")

from . import activations, dense, engine, gather, losses, memory, norm, optim, reduce  # noqa: E402

#: the kernel modules, each with ``kernels(dtype)`` and ``signatures(dtype)``
MODULES = (activations, dense, losses, norm, reduce, optim, gather, memory)

__all__ = ["activations", "dense", "losses", "norm", "reduce", "optim", "gather", "memory",
           "engine", "MODULES"]
