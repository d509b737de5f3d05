"""Compile the training path ahead of the first real run.

Numba compiles a kernel the first time it runs and keeps the machine code
in its on-disk cache (``__pycache__`` beside the sources, or
``NUMBA_CACHE_DIR``), so only the first process pays the compile time — about
15–25 s for the whole CPU training path on 2 cores — and later processes
load the cache in well under a second. :func:`warmup` (``numbann warmup``)
pays it up front, e.g. right after installation.
"""

import time

import numpy as np

__all__ = ["warmup"]


def warmup(dtypes=("float32",), numerical_gradient=False):
    """Compile (or load from the cache) the CPU kernels of training, evaluation and
    inference for each dtype; returns {dtype name: seconds taken}.

    One tiny run covers every activation, loss and optimizer: the compiled
    engine takes them as run-time codes. With *numerical_gradient* the
    compiled numerical gradient is compiled too.
    """
    from . import layers, losses, optim, training

    rng = np.random.default_rng(0)
    took = {}
    for dtype in dtypes:
        dt = np.dtype(dtype)
        start = time.perf_counter()
        x = rng.standard_normal((12, 5)).astype(dt)
        t = rng.integers(0, 3, 12)
        model = _small_model(layers, dt)
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = losses.CrossEntropyLoss()
        training.fit(model, loss_fn, opt, x, t, epochs=1, batch_size=5, verbose=0,
                     validation_data=(x, t), seed=0)
        training.fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.01), x, t, epochs=1,
                     batch_size=1, shuffle=False, verbose=0)
        model.predict(x)
        opt.zero_grad()
        loss_fn(model(x), t)
        model.backward(loss_fn.backward())
        opt.step()
        if numerical_gradient:
            model.numerical_gradient(x[:2], t[:2], loss_fn)
        took[dt.name] = time.perf_counter() - start
    return took


def _small_model(layers, dtype):
    from .sequential import Sequential

    return Sequential(layers.Linear(5, 4, rng=0, dtype=dtype), layers.ReLU(),
                      layers.Linear(4, 3, rng=1, dtype=dtype))
