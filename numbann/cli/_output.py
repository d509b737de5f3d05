"""How the commands report: the two kinds of error, tables, results and JSON."""

import json
import math
import sys
from pathlib import Path

import numpy as np


class CLIError(Exception):
    """An expected problem: printed as ``numbann COMMAND: error: <message>``, exit status 1."""


class UsageError(Exception):
    """A bad combination of arguments found after parsing: exit status 2."""


class Out:
    """Where tables and results go: tables to stdout, or stderr with --json; none with -q."""

    def __init__(self, args):
        self.json = getattr(args, "json", False)
        self.quiet = getattr(args, "quiet", False)
        self.verbose = getattr(args, "verbose", False)

    def table(self, text=""):
        """Progress and tables (suppressed by --quiet)."""
        if not self.quiet:
            print(text, file=sys.stderr if self.json else sys.stdout, flush=True)

    def result(self, text):
        """Human-readable results (replaced by the JSON object with --json)."""
        if not self.json:
            print(text, flush=True)

    def emit_json(self, obj):
        """The results as one JSON object on stdout, with --json."""
        if self.json:
            print(json.dumps(jsonable(obj), allow_nan=False))


def jsonable(obj):
    """*obj* with NumPy scalars and paths made plain, and non-finite numbers as None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def cell(fmt, value):
    """*value* formatted for a table: '-' for a missing value, exponent form for huge ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and fmt == "{:.4f}" and not abs(value) < 1e4:
        return f"{value:.3e}"
    return fmt.format(value)


def format_table(header, rows, formats):
    """Lines of a right-aligned table with a header row."""
    cells = [[cell(fmt, v) for fmt, v in zip(formats, row)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return lines


def architecture(model):
    """'784-100-10': the widths of the Linear layers."""
    linears = model.linears
    return "-".join(str(n) for n in [linears[0].in_features]
                    + [layer.out_features for layer in linears])
