"""Architectures as data: layer configs (what ``config()`` writes and a model file holds),
the layer registry, and the checks a file's arrays must pass before anything is built.

A layer config is a JSON-able dict ``{"type": <class name>, …arguments}``. A model
file's architecture is checked against the shapes of the arrays stored beside it
*before* a layer is allocated, so a damaged or hostile file (``in_features:
3000000000``) is refused instead of allocating what it claims.
"""

import numpy as np

from . import _validate as v
from .layers import ACTIVATIONS, Linear
from .normalization import BatchNorm1d, BatchNormalization, Dropout

__all__ = ["LAYERS", "layer_from_config", "state_shapes", "check_arrays"]

#: layer type name (as ``config()`` writes it) → class
LAYERS = {cls.__name__: cls for cls in (Linear, BatchNorm1d, BatchNormalization, Dropout,
                                        *ACTIVATIONS.values())}


def _layer_class(cfg):
    cls = LAYERS.get(cfg.get("type")) if isinstance(cfg, dict) else None
    if cls is None:
        kind = cfg.get("type") if isinstance(cfg, dict) else cfg
        raise ValueError(f"unknown layer type {kind!r} in the architecture")
    return cls


def layer_from_config(cfg, dtype, rng=None):
    """A new layer from its config (parameters as the config's ``init`` says, else zero)."""
    return _layer_class(cfg).from_config(cfg, dtype, rng)


def state_shapes(layer_cfgs):
    """{state_dict name: shape} that layers built from *layer_cfgs* would have, computed
    without building them (sizes checked to be positive integers)."""
    shapes = {}
    for i, cfg in enumerate(layer_cfgs):
        cls = _layer_class(cfg)
        if cls is Linear:
            fan_in = v.positive_int(cfg.get("in_features"), f"layer {i} in_features")
            fan_out = v.positive_int(cfg.get("out_features"), f"layer {i} out_features")
            shapes[f"{i}.weight"] = (fan_in, fan_out)
            if cfg.get("bias", True):
                shapes[f"{i}.bias"] = (fan_out,)
        elif issubclass(cls, BatchNorm1d):
            c = v.positive_int(cfg.get("num_features"), f"layer {i} num_features")
            if cfg.get("affine", True):
                shapes[f"{i}.weight"] = shapes[f"{i}.bias"] = (c,)
            shapes[f"{i}.running_mean"] = shapes[f"{i}.running_var"] = (c,)
            shapes[f"{i}.num_batches_tracked"] = ()
    return shapes


def check_arrays(layer_cfgs, arrays):
    """Raise ValueError unless *arrays* ({name: array}) are exactly the state of the
    architecture *layer_cfgs*, each of the shape it implies."""
    want = state_shapes(layer_cfgs)
    missing = sorted(set(want) - set(arrays))
    unexpected = sorted(set(arrays) - set(want))
    if missing or unexpected:
        raise ValueError(f"the stored arrays do not match the architecture: missing {missing}, "
                         f"unexpected {unexpected}")
    for name, shape in want.items():
        got = np.shape(arrays[name])
        if got != shape:
            raise ValueError(f"entry {name!r} has shape {got} but the architecture says {shape}")
