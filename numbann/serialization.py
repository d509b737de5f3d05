"""Saving and loading models without pickle: one ``.npz`` per model.

The file holds the architecture and metadata as JSON (in the array
``__numbann__``), every parameter under its state_dict key ("0.weight"), and,
when asked, the optimizer's hyperparameters and state under "optimizer/…".
The metadata records a SHA-256 of every array, checked on load, so a damaged
file is reported instead of silently giving wrong weights.
Writes go to a temporary file that is renamed over the target only once it
is complete, so a crash never leaves a half-written model in place of a good
one. Loading never unpickles (``allow_pickle=False``).
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from ._io import atomic_write, sha256_of
from ._validate import float_dtype
from ._version import __version__
from .architecture import check_arrays, layer_from_config
from .models import NETWORKS
from .optim import OPTIMIZERS
from .sequential import Sequential

__all__ = ["save", "load"]

FORMAT = "numbann-model"
FORMAT_VERSION = 1
_META = "__numbann__"
_OPT = "optimizer/"


def save(model, path, optimizer=None):
    """Write *model* (and *optimizer*'s state, if given) to the .npz file *path*.

    The file holds every parameter under its state_dict name ("0.weight" of
    shape (in, out), "0.bias" (out,), …), the optimizer's flat state arrays
    under "optimizer/<name>", and the architecture, dtype, weight_decay_lambda
    and a SHA-256 per array as JSON. Written atomically; a model on the GPU
    is saved from a host copy.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"save() takes a numbann model, got {type(model).__name__}")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "numbann": __version__,
            "dtype": str(model.dtype), "model": model.config(),
            "weight_decay_lambda": model.weight_decay_lambda}
    arrays = model.state_dict()
    if optimizer is not None:
        if any(a is not b for a, b in zip(optimizer.params, model.parameters())) or len(
                optimizer.params) != len(model.parameters()):
            raise ValueError("the optimizer does not optimize exactly this model's parameters")
        sd = optimizer.state_dict()
        meta["optimizer"] = {"type": sd["type"], "hyperparameters": sd["hyperparameters"],
                             "step": sd["step"]}
        arrays.update({_OPT + name: arr for name, arr in sd["state"].items()})
    meta["sha256"] = {name: sha256_of(arr) for name, arr in arrays.items()}
    arrays[_META] = np.array(json.dumps(meta))
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def _read(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a numbann model file (not an .npz archive; corrupt "
                         "or truncated?)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise ValueError(f"{path} is not a readable numbann model file (corrupt or "
                         f"truncated?): {exc}") from None
    if _META not in arrays:
        raise ValueError(f"{path} is not a numbann model file (no {_META} entry)")
    try:
        meta = json.loads(str(arrays.pop(_META)))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: corrupt metadata: {exc}") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a numbann model file")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer numbann ({meta.get('numbann')}); "
                         "upgrade numbann to read it")
    sums = meta.get("sha256", {})
    for name in sorted(set(sums) | set(arrays)):
        if name not in arrays or name not in sums or sha256_of(arrays[name]) != sums[name]:
            raise ValueError(f"{path} is corrupt: entry {name!r} does not match its checksum")
    return meta, arrays


def build_model(model_cfg, dtype, arrays):
    """The model a file's architecture describes, after checking that the stored *arrays*
    are exactly its state (so nothing is allocated that the file does not hold)."""
    kind = model_cfg.get("type")
    if kind in NETWORKS:
        layer_cfgs = NETWORKS[kind].architecture(**model_cfg["args"])
    elif kind == "Sequential":
        layer_cfgs = model_cfg["layers"]
    else:
        raise ValueError(f"unknown model type {kind!r}")
    check_arrays(layer_cfgs, arrays)
    if kind in NETWORKS:
        return NETWORKS[kind](**model_cfg["args"], dtype=dtype)
    return Sequential(*[layer_from_config(c, dtype) for c in layer_cfgs])


def load(path, *, with_optimizer=False):
    """Read a model saved by :func:`save`; with ``with_optimizer=True`` return
    ``(model, optimizer)`` (optimizer None if none was saved).

    The model is rebuilt as the class it was saved from (Sequential, TwoLayerNet,
    MultiLayerNet) in the saved dtype, on the CPU. Every array is checked
    against its checksum; nothing is unpickled. Raises FileNotFoundError, or
    ValueError for a file that is not a numbann model or is damaged.
    """
    meta, arrays = _read(path)
    params = {k: a for k, a in arrays.items() if not k.startswith(_OPT)}
    try:
        model = build_model(meta["model"], float_dtype(meta["dtype"]), params)
        model.weight_decay_lambda = float(meta.get("weight_decay_lambda", 0.0))
        model.load_state_dict(params, strict=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the model entries do not match its architecture: "
                         f"{exc}") from None
    if not with_optimizer:
        return model
    opt_meta = meta.get("optimizer")
    if opt_meta is None:
        return model, None
    cls = OPTIMIZERS.get(opt_meta["type"])
    if cls is None:
        raise ValueError(f"{path}: unknown optimizer {opt_meta['type']!r}")
    optimizer = cls(model.parameters(), **opt_meta["hyperparameters"])
    state = {k[len(_OPT):]: a for k, a in arrays.items() if k.startswith(_OPT)}
    optimizer.load_state_dict({"type": opt_meta["type"], "step": opt_meta["step"],
                               "hyperparameters": opt_meta["hyperparameters"], "state": state})
    return model, optimizer
