"""``numbann info`` and ``numbann warmup``: the installation, and compiling ahead of time."""

import json

from ._output import jsonable


def cmd_info(args, out):
    """Print numbann's configuration (as show_config), or with --json as one object."""
    from .._info import config_info, show_config

    if args.json:
        print(json.dumps(jsonable(config_info())))
    else:
        show_config()
    return 0


def cmd_warmup(args, out):
    """Compile (or load from Numba's cache) the training path for the dtypes of *args*."""
    from .._warmup import warmup

    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    for name, seconds in warmup(dtypes, args.numerical_gradient).items():
        print(f"{name}: ready in {seconds:.1f} s")
    return 0
