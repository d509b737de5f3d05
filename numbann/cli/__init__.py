"""The ``numbann`` command line: train, evaluate, gradcheck, info, warmup.

    numbann train                       # 784-100-10 ReLU on MNIST, Adam, 5 epochs
    numbann train --dataset digits      # the 8x8 digits shipped with numbann, no download
    numbann evaluate model.npz
    numbann gradcheck
    numbann info
    numbann warmup                      # compile the training path now; later runs start at once

Also ``python -m numbann ...``. :func:`main` takes the argument list and
returns the exit status: 0 success, 1 a problem while running (missing or
corrupt data, CUDA unavailable, training diverged, unreadable model file),
2 bad arguments. Expected problems are reported on stderr as
``numbann COMMAND: error: ...`` — one line, or after a failed download one
more line per mirror and what to do — never as a traceback.

The parts: ``_parser`` (the options), ``_recipes`` (the data, model and
optimizer the commands build, with their defaults), one module per command
(``_train``, ``_evaluate``, ``_gradcheck``, ``_tools``), ``_missing_data``
(the messages about data) and ``_output`` (errors, tables, JSON).
"""

import sys

from ._output import CLIError, Out, UsageError
from ._parser import build_parser

__all__ = ["CLIError", "build_parser", "main"]


def main(argv=None):
    """Run the ``numbann`` command with *argv* (default ``sys.argv[1:]``); returns the
    exit status: 0 ok, 1 runtime problem, 2 bad arguments."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    out = Out(args)
    try:
        return args.func(args, out)
    except UsageError as exc:
        sub = parser._subparsers._group_actions[0].choices[args.command]
        sub.print_usage(sys.stderr)
        print(f"numbann {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except CLIError as exc:
        print(f"numbann {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"numbann {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `numbann info | head -1`
        sys.stderr.close()
        return 1
