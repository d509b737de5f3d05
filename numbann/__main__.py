"""``python -m numbann ...``: the numbann command line (see :mod:`numbann.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
