"""The repository keeps its promises: README commands, CI script, version."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import numbann

ROOT = Path(__file__).resolve().parents[1]


def readme_command(marker):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, f"README.md has no command after <!-- {marker} -->"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert readme_command("test-command") in ci


def test_version_matches_pyproject_dynamic_source():
    text = (ROOT / "numbann" / "_version.py").read_text(encoding="utf-8")
    assert f'__version__ = "{numbann.__version__}"' in text
    assert re.fullmatch(r"\d+\.\d+\.\d+", numbann.__version__)


def test_show_config_reports_versions_threads_and_cuda(capsys):
    import numba
    import numpy

    numbann.show_config()
    out = capsys.readouterr().out
    assert f"numba            {numba.__version__}" in out
    assert f"numpy            {numpy.__version__}" in out
    assert re.search(r"^threads\s+\d+$", out, re.M)
    assert re.search(r"^threading layer\s+\S", out, re.M)
    assert re.search(r"^cuda\s+(available|not available): \S", out, re.M)


def test_the_code_passes_the_linter():
    """ruff (in the test extra) with the settings in pyproject.toml, over the whole tree."""
    pytest.importorskip("ruff", reason="ruff is in the test extra: pip install -e '.[test]'")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
