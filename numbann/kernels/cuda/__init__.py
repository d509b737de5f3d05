"""CUDA kernels: ``@cuda.jit`` twins of :mod:`numbann.kernels` and their launch wrappers.

Modules mirror the CPU ones — :mod:`.activations`, :mod:`.dense`,
:mod:`.losses`, :mod:`.optim` — plus :mod:`.reduce` (loss sums and accuracy
counts kept on the device) and :mod:`.gather` (mini-batch gather by a
permutation). Every wrapper has the CPU kernel's name and arguments, takes
device arrays (``numba.cuda`` device arrays or anything with
``__cuda_array_interface__``; views of a flat parameter buffer work) and an
optional ``stream``, picks the launch configuration from
:mod:`numbann._config` and only launches: nothing synchronises except the
functions that return a host value (:func:`.reduce.fetch_sum`,
:func:`.reduce.total`, :func:`.losses.loss_total`).

A device training step is then::

    gather_batch(X, T, perm[s:e], Xb, Tb)                 # gather
    for each layer l: dense_forward(A[l-1], W[l], b[l], act[l], A[l])
    loss_labels(SOFTMAX_CE, A[L], Tb, 1/n, dA[L], True, rows)   # fused softmax + CE
    sum_blocks(rows, losses, step); count_correct(A[L], Tb, hits, step)
    for each layer l, last first:
        dense_backward(A[l-1], W[l], A[l], dA[l], act[l], dA[l], dW[l], db[l],
                       dA[l-1], l > 1, False)
    adam_step(params, grads, m, v, v_max, …, step, False)   # one launch, flat buffers

(with identity as the last layer's activation when the loss is the fused
softmax + CE). Importing this package needs Numba's CUDA target
(``pip install "numbann[cuda]"``) but no GPU: the kernels compile lazily
on first launch, and :func:`numba.cuda.compile_ptx` compiles them without
a GPU (see ``signatures(dtype)`` in each module).
"""

from ..._cuda import CudaUnavailableError, cuda

if cuda is None:  # pragma: no cover - depends on the installation
    raise CudaUnavailableError(
        "numbann.kernels.cuda needs Numba's CUDA target: pip install 'numbann[cuda]'")

from . import activations, dense, engine, gather, losses, memory, optim, reduce  # noqa: E402

#: the kernel modules, each with ``kernels(dtype)`` and ``signatures(dtype)``
MODULES = (activations, dense, losses, reduce, optim, gather, memory)

__all__ = ["activations", "dense", "losses", "reduce", "optim", "gather", "memory", "engine",
           "MODULES"]
