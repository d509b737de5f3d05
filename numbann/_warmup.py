"""Compile the training path ahead of the first real run.

Numba compiles a kernel the first time it runs and keeps the machine code
in its on-disk cache (``__pycache__`` beside the sources, or
``NUMBA_CACHE_DIR``), so only the first process pays the compile time — about
20–25 s for one training run's path on 2 cores, about 50 s for every path —
and later processes load the cache in well under a second. :func:`warmup`
(``numbann warmup``) pays it up front, e.g. right after installation.
"""

import time

import numpy as np

__all__ = ["warmup"]


def warmup(dtypes=("float32",), numerical_gradient=False):
    """Compile (or load from the cache) the CPU kernels of training, evaluation and
    inference for each dtype; returns {dtype name: seconds taken}.

    Tiny runs cover every activation, loss and optimizer (the compiled engine
    takes them as run-time codes) on both engines: batches too small to share
    take the one-thread engine, batches that give every Numba thread
    ``engine_split.MIN_ROWS`` rows the data-parallel one (with two or more threads),
    and so does inference.
    With *numerical_gradient* the compiled numerical gradient is compiled too.
    """
    import numba

    from . import layers, losses, optim, training
    from .kernels.engine_split import MIN_ROWS

    shared = max(2, numba.get_num_threads()) * MIN_ROWS  # rows of a batch the threads share
    rng = np.random.default_rng(0)
    took = {}
    for dtype in dtypes:
        dt = np.dtype(dtype)
        start = time.perf_counter()
        x = rng.standard_normal((2 * shared, 5)).astype(dt)
        t = rng.integers(0, 3, x.shape[0])
        small_x, small_t = x[:12], t[:12]
        model = _small_model(layers, dt)
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = losses.CrossEntropyLoss()
        training.fit(model, loss_fn, opt, small_x, small_t, epochs=1, batch_size=5, verbose=0,
                     validation_data=(small_x, small_t), seed=0)
        training.fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.01), small_x, small_t,
                     epochs=1, batch_size=1, shuffle=False, verbose=0)
        training.fit(model, loss_fn, opt, x, t, epochs=1, batch_size=shared, verbose=0,
                     seed=0)
        model.predict(small_x)  # through the layers' kernels
        model.predict(x)  # rows shared between the threads
        opt.zero_grad()
        loss_fn(model(small_x), small_t)
        model.backward(loss_fn.backward())
        opt.step()
        if numerical_gradient:
            model.numerical_gradient(small_x[:2], small_t[:2], loss_fn)
        took[dt.name] = time.perf_counter() - start
    return took


def _small_model(layers, dtype):
    from .sequential import Sequential

    return Sequential(layers.Linear(5, 4, rng=0, dtype=dtype), layers.ReLU(),
                      layers.Linear(4, 3, rng=1, dtype=dtype))
