"""Splitting, one-hot labels and mini-batches for a data set given as inputs x and targets t.

x and t are arrays whose first axis indexes the samples (x of shape (N, ...),
t of shape (N,) labels or (N, C) rows). Randomness comes from *seed*: None,
an int, or a ``numpy.random.Generator``.
"""

import numbers

import numpy as np

from .. import _validate

__all__ = ["batches", "one_hot", "sample_batch", "train_test_split"]


def _paired(x, t):
    x, t = np.asarray(x), np.asarray(t)
    if x.ndim == 0 or t.ndim == 0:
        raise ValueError(
            f"x and t must be arrays of samples (at least 1-D), got shapes {x.shape} and {t.shape}"
        )
    if x.shape[0] != t.shape[0]:
        raise ValueError(
            f"x and t must hold the same number of samples, got {x.shape[0]} and {t.shape[0]}"
        )
    return x, t


def _generator(seed):
    if isinstance(seed, bool | np.bool_):
        raise ValueError(f"seed must be None, an int or a numpy Generator, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise ValueError(
            f"seed must be None, a non-negative int or a numpy Generator, got {seed!r}"
        ) from None


def _test_count(test_size, n):
    """Number of test samples for *test_size* (fraction or count) of *n*, as scikit-learn."""
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool | np.bool_):
        if not 1 <= test_size < n:
            raise ValueError(f"test_size={test_size} must be in [1, {n - 1}] for {n} samples")
        return int(test_size)
    if isinstance(test_size, numbers.Real) and not isinstance(test_size, bool | np.bool_):
        if not 0 < test_size < 1:
            raise ValueError(f"a fractional test_size must be in (0, 1), got {test_size}")
        n_test = int(np.ceil(test_size * n))
        if n_test >= n:
            raise ValueError(f"test_size={test_size} of {n} samples leaves the training set empty")
        return n_test
    raise ValueError(f"test_size must be a float in (0, 1) or an int count, got {test_size!r}")


def train_test_split(x, t, test_size=0.25, *, shuffle=True, seed=None):
    """Split (x, t) into training and test parts: ``x_train, x_test, t_train, t_test``.

    As scikit-learn's function: a float *test_size* in (0, 1) is the fraction
    of samples for testing (rounded up), an int the count. With *shuffle*
    the samples are drawn in a random order from *seed*; without, the test
    part is the last ``n_test`` samples. The parts are new arrays.
    """
    x, t = _paired(x, t)
    n = x.shape[0]
    n_test = _test_count(test_size, n)
    if shuffle:
        order = _generator(seed).permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        train, test = np.arange(n - n_test), np.arange(n - n_test, n)
    return x[train], x[test], t[train], t[test]


def one_hot(labels, num_classes, dtype=np.float32):
    """(N,) integer labels in [0, num_classes) → (N, num_classes) one-hot rows of *dtype*."""
    num_classes = _validate.positive_int(num_classes, "num_classes")
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {arr.shape}")
    labels = _validate.as_labels(arr, arr.shape[0], num_classes, "labels")
    return _validate.one_hot(labels, num_classes, np.dtype(dtype))


def batches(x, t, batch_size, *, shuffle=True, seed=None, drop_last=False):
    """Iterate over (xb, tb) mini-batches of *batch_size* samples covering (x, t) once.

    With *shuffle* the order is a random permutation from *seed* (drawn when
    ``batches`` is called) and the batches are new arrays; without, they are
    consecutive slices (views of x and t). The last batch is smaller when
    *batch_size* does not divide N, unless *drop_last* drops it.
    """
    x, t = _paired(x, t)
    batch_size = _validate.positive_int(batch_size, "batch_size")
    n = x.shape[0]
    order = _generator(seed).permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    return _iterate(x, t, batch_size, order, stop)


def _iterate(x, t, batch_size, order, stop):
    for start in range(0, stop, batch_size):
        if order is None:
            yield x[start : start + batch_size], t[start : start + batch_size]
        else:
            index = order[start : start + batch_size]
            yield x[index], t[index]


def sample_batch(x, t, batch_size, rng):
    """A random mini-batch (xb, tb) of *batch_size* samples, drawn with replacement.

    The textbook's ``batch_mask = np.random.choice(train_size, batch_size)``:
    *rng* is anything with that ``choice`` method (a ``numpy.random.Generator``,
    a ``RandomState``, the ``np.random`` module) or a seed (None or an int)
    for a new Generator. xb and tb are new arrays.
    """
    x, t = _paired(x, t)
    batch_size = _validate.positive_int(batch_size, "batch_size")
    if x.shape[0] == 0:
        raise ValueError("cannot sample a batch from an empty data set")
    if rng is None or isinstance(rng, numbers.Integral | np.random.SeedSequence):
        rng = _generator(rng)
    elif not callable(getattr(rng, "choice", None)):
        raise TypeError(
            "rng must be a numpy Generator, a RandomState, np.random, an int seed or None, "
            f"got {type(rng).__name__}"
        )
    mask = rng.choice(x.shape[0], batch_size)
    return x[mask], t[mask]
