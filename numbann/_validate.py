"""Input checks at the boundary between users and compiled kernels.

Kernels do not check shapes, dtypes or index ranges; everything that reaches
them passes through these helpers first, which convert what can be converted
(lists, integers, float16, non-contiguous arrays) and raise a ``TypeError`` or
``ValueError`` naming the argument and the problem otherwise.
"""

import numbers

import numpy as np

from ._config import FLOAT_DTYPES


def float_dtype(dtype, name="dtype"):
    """*dtype* as np.dtype if it is float32 or float64; TypeError naming it otherwise."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


def positive_int(value, name):
    """*value* as an int if it is an integer ≥ 1 (Python or NumPy, not a bool); else
    ValueError naming *name*."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_float_array(x, name="x", dtype=None, ndim=None):
    """*x* as a C-contiguous float32/float64 array.

    Without *dtype*, float32 and float64 stay as they are, integers and bools
    become float64 (as NumPy's ufuncs do) and float16 becomes float32. With
    *dtype*, the result has that dtype. *ndim* (an int or a tuple of allowed
    values) is checked. Read-only inputs are fine: kernels only read them.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if dtype is not None:
        target = float_dtype(dtype)
    elif arr.dtype in FLOAT_DTYPES:
        target = arr.dtype
    elif arr.dtype == np.float16:
        target = np.dtype(np.float32)
    else:
        target = np.dtype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    return np.asarray(arr, dtype=target, order="C")


def as_batch(x, name="x", dtype=None):
    """*x* as a 2-D (N, C) float array; 1-D input is a batch of one row.

    Returns ``(array, was_1d)`` so callers can give 1-D results for 1-D input.
    """
    arr = as_float_array(x, name, dtype, ndim=(1, 2))
    if arr.ndim == 1:
        return arr.reshape(1, -1), True
    return arr, False


def check_not_empty(arr, name="x"):
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); need at least one sample")


def check_finite(arr, name="x"):
    """Raise ValueError if *arr* holds NaN or ±inf, naming the first bad index.

    A compiled pass over the data (no temporary arrays) for float arrays.
    """
    if arr.dtype.kind == "f" and arr.size:
        from .kernels.checks import first_nonfinite

        bad = first_nonfinite(arr.reshape(-1) if arr.flags.c_contiguous else arr.ravel())
        if bad < 0:
            return
        where = tuple(int(i) for i in np.unravel_index(bad, arr.shape))
        raise ValueError(f"{name} contains NaN or inf (first at index {where}: {arr[where]})")


def check_same_shape(y, t, y_name="y", t_name="t"):
    if y.shape != t.shape:
        raise ValueError(f"{t_name} must have the shape of {y_name} {y.shape}, got {t.shape}")


def as_labels(t, n, num_classes, name="t"):
    """Class labels *t* as a C-contiguous int64 array of shape (n,), each in [0, num_classes).

    Integer arrays are accepted as they are; float arrays only if every value
    is a whole number. Anything else raises naming the problem.
    """
    arr = np.asarray(t)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be {n} class labels of shape ({n},), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} holds non-integer values; class labels must be whole numbers")
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    labels = np.ascontiguousarray(arr, dtype=np.int64)
    if labels.size:
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"{name} has label {bad} out of range: labels must be in [0, {num_classes - 1}] "
                f"for {num_classes} classes"
            )
    return labels


def as_targets(t, n, num_classes, dtype, name="t"):
    """Targets as labels (n,) int64 or as a float (n, num_classes) matrix.

    Returns ``(array, is_labels)``: a 1-D *t* is read as class labels, a 2-D
    *t* as one-hot rows, probabilities or regression targets.
    """
    arr = np.asarray(t)
    if arr.ndim == 1:
        return as_labels(arr, n, num_classes, name), True
    if arr.ndim == 2:
        if arr.shape != (n, num_classes):
            raise ValueError(
                f"{name} must be labels ({n},) or a target matrix ({n}, {num_classes}), "
                f"got shape {arr.shape}"
            )
        return as_float_array(arr, name, dtype), False
    raise ValueError(f"{name} must be 1-D labels or a 2-D target matrix, got shape {arr.shape}")


def one_hot(labels, num_classes, dtype=np.float32):
    """(N,) labels in [0, num_classes) → (N, num_classes) one-hot rows of *dtype*."""
    out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out
