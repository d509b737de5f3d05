"""The documentation cannot rot: the site builds without warnings, every public name has a
docstring, links to files of the repository resolve, and the getting-started code runs."""

import ast
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import numbann

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHARED_DATA = Path(os.environ.get("NUMBANN_DATA") or ROOT.parent / "shared" / "data")
HAVE_MNIST = (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists()

PAGES = sorted(DOCS.rglob("*.md"))
MARKDOWN = [ROOT / "README.md", ROOT / "README.ja.md", ROOT / "examples" / "README.md", *PAGES]


# --- the site -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once with ``mkdocs build --strict``; returns its directory."""
    pytest.importorskip("mkdocs", reason="MkDocs is not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "WARNING" not in log, log
    return out


def test_site_builds_strictly_with_every_page(site):
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in PAGES:
        rel = page.relative_to(DOCS).as_posix()
        assert rel in nav, f"{rel} is not in the nav of mkdocs.yml"
        stem = rel[:-len(".md")]
        html = site / (stem[:-len("index")] if stem.endswith("index") else stem + "/") / \
            "index.html"
        assert html.is_file(), f"{rel} was not built"
    assert not (site / "img" / "make_images.py").exists()  # scripts stay out of the site


def test_api_reference_is_generated_from_the_docstrings(site):
    layers = (site / "reference" / "layers" / "index.html").read_text(encoding="utf-8")
    assert 'id="numbann.layers.Linear"' in layers
    assert "Fully connected layer y = x @ W + b" in layers
    optim = (site / "reference" / "optim" / "index.html").read_text(encoding="utf-8")
    assert 'id="numbann.optim.Adam"' in optim
    kernels = (site / "reference" / "kernels" / "index.html").read_text(encoding="utf-8")
    assert 'id="numbann.kernels.optim.adam_step"' in kernels
    assert ":func:" not in kernels and ":mod:" not in kernels  # Sphinx roles are cleaned


def test_links_out_of_docs_point_to_the_repository(site):
    html = (site / "performance" / "index.html").read_text(encoding="utf-8")
    assert "https://github.com/numbann/numbann/blob/main/benchmarks/RESULTS.md" in html
    html = (site / "examples" / "index.html").read_text(encoding="utf-8")
    assert "https://github.com/numbann/numbann/blob/main/examples/ch6_optimizers.py" in html


def test_every_module_is_in_the_api_reference():
    directives = set()
    for page in (DOCS / "reference").glob("*.md"):
        directives |= set(re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.M))
    modules = {m.name for m in pkgutil.walk_packages(numbann.__path__, "numbann.")
               if not any(part.startswith("_") for part in m.name.split("."))}
    documented_elsewhere = {"numbann.cli"}  # docs/cli.md, the command's own page
    missing = sorted(modules - directives - documented_elsewhere)
    assert not missing, f"modules without an API reference page: {missing}"


# --- docstrings ---------------------------------------------------------------------------

#: Public methods without a docstring in files that are being edited by others right now;
#: remove an entry when its docstring exists (the test below insists).
KNOWN_MISSING = set()


def _own_doc(obj):
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


def _public_api():
    """(qualified name, object) for every public name a user reaches."""
    seen = {}
    for name in numbann.__all__:
        if name == "__version__":
            continue
        seen[f"numbann.{name}"] = getattr(numbann, name)
    for modname in ("functional", "gradient", "optim", "datasets", "plot", "models", "device",
                    "layers", "losses", "sequential", "serialization", "training", "autograd",
                    "normalization", "callbacks", "architecture", "parameter"):
        mod = importlib.import_module(f"numbann.{modname}")
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if callable(obj):
                seen[f"numbann.{modname}.{name}"] = obj
    return seen


def test_every_public_name_has_a_docstring():
    missing = [name for name, obj in _public_api().items() if not _own_doc(obj)]
    assert not missing, f"public names without a docstring: {missing}"


def test_public_methods_have_docstrings():
    """Methods of the public classes (an override may inherit its base class's docstring)."""
    missing = set()
    for obj in _public_api().values():
        if not inspect.isclass(obj) or not obj.__module__.startswith("numbann"):
            continue
        for name, member in vars(obj).items():
            if name.startswith("_") or not (inspect.isfunction(member)
                                            or isinstance(member, property)):
                continue
            if not inspect.getdoc(getattr(obj, name)):
                missing.add(f"{obj.__module__}.{obj.__qualname__}.{name}")
    assert missing <= KNOWN_MISSING, f"methods without a docstring: {sorted(missing)}"
    assert KNOWN_MISSING <= missing, f"now documented, drop from KNOWN_MISSING: " \
                                     f"{sorted(KNOWN_MISSING - missing)}"


# --- links --------------------------------------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def _relative_links(path):
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue
        yield target.split("#", 1)[0]


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_to_files_of_the_repository_exist(path):
    broken = [t for t in _relative_links(path) if t and not (path.parent / t).exists()]
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


# --- the getting-started pages ------------------------------------------------------------


def _blocks(page, kind="python"):
    """{name: code} of the ```kind blocks marked <!-- test: name --> or <!-- name -->."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return dict(re.findall(rf"<!-- (?:test: )?([\w-]+) -->\s*```{kind}\n(.*?)\n?```", text,
                           re.S))


def test_install_commands_are_the_readmes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for marker in ("main-command", "test-command"):
        command = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", readme, re.S).group(1)
        for page in ("getting-started.md", "ja/getting-started.md"):
            assert _blocks(page, "bash")[marker].strip() == command, (page, marker)
        assert command in (ROOT / "README.ja.md").read_text(encoding="utf-8")


def test_japanese_first_run_is_the_english_code():
    def code(src):
        return [line.split("#")[0].rstrip() for line in src.splitlines()]

    assert code(_blocks("ja/getting-started.md")["ja-first-run"]) == \
        code(_blocks("getting-started.md")["first-run"])


@pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST not found in {SHARED_DATA}")
def test_getting_started_code_runs(tmp_path):
    """The marked blocks of docs/getting-started.md, in order, as one script — with one
    epoch instead of five and 200 textbook iterations instead of 10,000."""
    blocks = _blocks("getting-started.md")
    script = "\n".join(blocks[name] for name in ("first-run", "use-model", "step-by-step"))
    script = script.replace("epochs=5", "epochs=1").replace("range(10000)", "range(200)")
    ast.parse(script)
    env = dict(os.environ, NUMBANN_DATA=str(SHARED_DATA), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    accuracy = float(re.search(r"^test accuracy: ([\d.]+)$", proc.stdout, re.M).group(1))
    assert accuracy > 0.9
    assert re.search(r"^first five: \[\d \d \d \d \d\] true: \[7 2 1 0 4\]$", proc.stdout, re.M)
    assert (tmp_path / "mnist_model.npz").is_file() and (tmp_path / "history.png").is_file()
