"""``python -m benchmarks``: the same as ``python -m benchmarks.report`` (see report.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import main  # noqa: E402

main()
