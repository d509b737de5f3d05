"""Regenerate the pictures of docs/getting-started.md and docs/examples.md.

    python docs/img/make_guide_images.py [--only getting-started|examples]

getting-started-history.png: runs the ``<!-- test: first-run -->`` code block
of docs/getting-started.md as it stands (in a temporary directory) and keeps
the history.png it writes — so the picture is of exactly that code.

examples/*.png: runs the scripts in examples/ (full mode) and copies the
figures that docs/examples.md shows. MNIST is found as load_mnist() finds it
($NUMBANN_DATA, the per-user cache, else a download).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
ROOT = DOCS.parent

#: example script → the figures of it that docs/examples.md shows
EXAMPLE_FIGURES = {
    "ch4_two_layer_net.py": ["ch4_training.png"],
    "ch6_optimizers.py": ["ch6_optimizers_2d.png"],
    "ch6_optimizers_mnist.py": ["ch6_optimizers_mnist.png"],
    "ch6_weight_init.py": ["ch6_weight_init_relu.png", "ch6_weight_init_mnist.png"],
    "ch6_batch_norm.py": ["ch6_batch_norm.png"],
    "ch6_overfitting.py": ["ch6_overfitting.png"],
    "ch6_dropout.py": ["ch6_dropout.png"],
    "ch6_hyperparameter_search.py": ["ch6_hyperparameter_search.png"],
}


def code_block(page, name):
    """The ```python block after ``<!-- test: name -->`` in *page*."""
    text = (DOCS / page).read_text(encoding="utf-8")
    match = re.search(rf"<!-- test: {name} -->\s*```python\n(.*?)```", text, re.S)
    if not match:
        raise SystemExit(f"{page} has no block marked <!-- test: {name} -->")
    return match.group(1)


def getting_started():
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "first_run.py"
        script.write_text(code_block("getting-started.md", "first-run"), encoding="utf-8")
        env = dict(os.environ, MPLBACKEND="Agg")
        subprocess.run([sys.executable, str(script)], cwd=tmp, env=env, check=True)
        target = HERE / "getting-started-history.png"
        shutil.copyfile(Path(tmp) / "history.png", target)
        print("wrote", target)


def examples():
    target = HERE / "examples"
    target.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for script, figures in EXAMPLE_FIGURES.items():
            subprocess.run([sys.executable, str(ROOT / "examples" / script), "--out", tmp],
                           check=True)
            for name in figures:
                shutil.copyfile(Path(tmp) / name, target / name)
                print("wrote", target / name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("getting-started", "examples"))
    args = parser.parse_args()
    if args.only in (None, "getting-started"):
        getting_started()
    if args.only in (None, "examples"):
        examples()


if __name__ == "__main__":
    main()
