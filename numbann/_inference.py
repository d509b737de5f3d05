"""Inference on every core: a model's rows split between Numba's threads.

``Sequential.predict`` runs here, in evaluation mode, when the model has a plan
(numbann.kernels.plan), lives on the CPU, Numba has two or more threads, SciPy's
BLAS can be held to one thread (numbann.kernels._blas_threads) and there are
enough rows to share; otherwise it runs through the layers' own kernels.
"""

import numba
import numpy as np

from ._config import SPLIT
from ._runners import engine_network
from .kernels import engine_split as split_k
from .kernels._blas_threads import blas_controls, one_blas_thread
from .kernels.plan import work_layout


def can_split(model, n_rows):
    """Whether :func:`predict_split` can take *n_rows* rows of *model*."""
    threads = numba.get_num_threads()
    return (SPLIT and model.backend.name == "cpu" and threads > 1
            and n_rows >= threads * split_k.MIN_ROWS and model.network_plan() is not None
            and blas_controls() is not None)


def predict_split(model, x, batch_size=None):
    """The evaluation-mode output (N, C) for validated host rows x (N, I), each thread
    forwarding its share of the rows at most *batch_size* rows at a time (default:
    :data:`~numbann.kernels.engine_split.PREDICT_CHUNK`)."""
    plan = model.network_plan()
    threads = numba.get_num_threads()
    chunk = split_k.predict_chunk(x.shape[0], threads, batch_size)
    work = np.empty((threads, int(work_layout(plan, chunk)[1])), model.dtype)
    out = np.empty((x.shape[0], model.out_features), model.dtype)
    with one_blas_thread():
        split_k.predict_split(x, engine_network(model, plan), work, chunk, out)
    return out
