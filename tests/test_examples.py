"""Every script in examples/ runs, in quick mode, and prints what its docstring promises.

Each example runs as a subprocess (``python examples/NAME.py --quick --out TMP``)
with MNIST taken from the shared data beside the checkout (``$NUMBANN_DATA``
if set); the examples that need MNIST are skipped when it is not there —
tests never download. The assertions are on the printed results (accuracies
above sensible bounds, the textbook's numbers) and on the figure files.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED_DATA = Path(os.environ.get("NUMBANN_DATA") or ROOT.parent / "shared" / "data")
HAVE_MNIST = (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists()
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST not found in {SHARED_DATA}")

SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def run_example(name, out_dir, *args):
    """Run one example in quick mode; returns its stdout (stderr is shown on failure)."""
    env = dict(os.environ, NUMBANN_DATA=str(SHARED_DATA), MPLBACKEND="Agg",
               NUMBANN_EXAMPLES_QUICK="1")
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--out", str(out_dir), *args],
                          capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def floats(pattern, text):
    """Every match of *pattern* (one group) in *text*, as floats."""
    found = [float(m) for m in re.findall(pattern, text)]
    assert found, f"{pattern!r} not found in:\n{text}"
    return found


def assert_figures(out_dir, *names):
    for name in names:
        path = out_dir / name
        assert path.is_file() and path.stat().st_size > 5000, f"{name} missing or empty"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the examples ------------------------------------------------------------------------


def test_ch3_activations(tmp_path):
    out = run_example("ch3_activations.py", tmp_path)
    assert "step_function(x) [0. 1. 1.]" in out
    assert "sigmoid(x)       [0.26894142 0.73105858 0.88079708]" in out
    assert "relu(x)          [0. 1. 2.]" in out
    assert "sigmoid(±1000)   [0. 1.]" in out
    assert_figures(tmp_path, "activations.png", "step_vs_sigmoid.png")


def test_ch3_forward(tmp_path):
    out = run_example("ch3_forward.py", tmp_path)
    assert "forward (functional): [0.31682708 0.69627909]" in out
    assert "forward (Sequential): [0.31682708 0.69627909]" in out
    assert "softmax(a): [0.01821127 0.24519181 0.73659691]" in out
    assert "nan" not in out.lower()


@needs_mnist
def test_ch3_mnist_inference(tmp_path):
    out = run_example("ch3_mnist_inference.py", tmp_path)
    accuracy = float(re.search(r"^Accuracy:([\d.]+)$", out, re.M).group(1))
    assert accuracy > 0.90  # one epoch of Adam; the book's pickled network: 0.9352
    assert floats(r"\(([\d.]+) million images/s\)", out)[0] > 0
    assert_figures(tmp_path, "mnist_predictions.png")
    assert (tmp_path / "mnist_784-50-100-10.npz").is_file()


@needs_mnist
def test_ch4_two_layer_net(tmp_path):
    out = run_example("ch4_two_layer_net.py", tmp_path)
    numeric = floats(r"numerical_gradient: ([\d.]+) s per iteration", out)[0]
    backprop = floats(r"gradient \(backpropagation\): ([\d.]+) ms per iteration", out)[0] / 1e3
    assert backprop < numeric / 10  # in practice 100–500x
    test_accs = floats(r"train acc, test acc \| [\d.]+, ([\d.]+)", out)
    assert len(test_accs) == 2  # 1,200 iterations = 2 epochs of 600, as the book counts
    assert floats(r"final test accuracy: ([\d.]+)", out)[0] > 0.8
    assert_figures(tmp_path, "ch4_training.png")


@needs_mnist
def test_ch5_gradient_check(tmp_path):
    out = run_example("ch5_gradient_check.py", tmp_path)
    diffs = floats(r"(?:W1|b1|W2|b2):([\d.e+-]+)", out.splitlines()[0])
    assert len(diffs) == 4 and max(diffs) < 1e-8  # the book: 1e-13 … 1e-10
    assert floats(r"largest relative error: ([\d.e+-]+)", out)[0] < 1e-6


def test_ch6_optimizers(tmp_path):
    out = run_example("ch6_optimizers.py", tmp_path)
    rows = dict(re.findall(r"^\s*(SGD|Momentum|AdaGrad|Adam) \(.*\)\s+([\d.]+)\s+[\d.e+-]+$",
                           out, re.M))
    gaps = dict(re.findall(r"^\s*(SGD|Momentum|AdaGrad|Adam) .* ([\d.e+-]+)$", out, re.M))
    assert set(rows) == {"SGD", "Momentum", "AdaGrad", "Adam"}
    assert all(float(v) < 0.2 for v in rows.values())  # f fell from 6.45 (at (−7, 2))
    for name in ("SGD", "Momentum", "AdaGrad"):
        assert float(gaps[name]) < 1e-12  # the textbook's trajectory exactly
    assert float(gaps["Adam"]) < 1e-3  # differs by where eps goes only
    assert_figures(tmp_path, "ch6_optimizers_2d.png")


@needs_mnist
def test_ch6_optimizers_mnist(tmp_path):
    out = run_example("ch6_optimizers_mnist.py", tmp_path)
    acc = {k: float(v) for k, v in re.findall(r"^(\w+): 300 iterations in [\d.]+ s, "
                                              r"test accuracy ([\d.]+)$", out, re.M)}
    assert set(acc) == {"SGD", "Momentum", "AdaGrad", "Adam"}
    assert min(acc["Momentum"], acc["AdaGrad"], acc["Adam"]) > 0.9
    assert acc["SGD"] < min(acc["Momentum"], acc["AdaGrad"], acc["Adam"])  # as Figure 6-9
    assert_figures(tmp_path, "ch6_optimizers_mnist.png")


@needs_mnist
def test_ch6_weight_init(tmp_path):
    out = run_example("ch6_weight_init.py", tmp_path)
    sigmoid, relu = out.split("ReLU (Figure 6-14)")

    def layer_stds(text, label):
        line = re.search(rf"^ +{re.escape(label)}: (.*)$", text, re.M).group(1)
        return [float(v) for v in line.split()]

    assert min(layer_stds(sigmoid, "std 1")) > 0.4  # piled up at 0 and 1 (Figure 6-10)
    assert max(layer_stds(sigmoid, "std 0.01")) < 0.05  # all near 0.5 (Figure 6-11)
    assert layer_stds(relu, "std 0.01")[-1] < 1e-3  # the signal dies out (Figure 6-14)
    assert min(layer_stds(relu, "He")) > 0.5  # He keeps it through 5 layers
    acc = {k: float(v) for k, v in re.findall(r"^(std=0\.01|Xavier|He): test accuracy "
                                              r"([\d.]+)$", out, re.M)}
    assert acc["std=0.01"] < 0.2 and acc["He"] > 0.8  # std 0.01 does not learn (Figure 6-15)
    assert_figures(tmp_path, "ch6_weight_init_sigmoid.png", "ch6_weight_init_relu.png",
                   "ch6_weight_init_mnist.png")


@needs_mnist
def test_ch6_overfitting(tmp_path):
    out = run_example("ch6_overfitting.py", tmp_path)
    final = {float(lam): (float(tr), float(te), float(gap)) for lam, tr, te, gap in re.findall(
        r"weight_decay_lambda=([\d.]+): final train acc ([\d.]+), test acc ([\d.]+), "
        r"gap ([\d.-]+)", out)}
    assert set(final) == {0.0, 0.1}
    train0, test0, _ = final[0.0]
    assert train0 > 0.6 and test0 > 0.4  # 40 epochs of 3 steps
    assert final[0.1][0] <= train0  # the penalty holds the training accuracy back
    assert_figures(tmp_path, "ch6_overfitting.png")


@needs_mnist
def test_ch6_batch_norm(tmp_path):
    out = run_example("ch6_batch_norm.py", tmp_path)
    rows = re.findall(r"W:([\d.]+)  batch norm: train acc ([\d.]+)  without: train acc ([\d.]+)",
                      out)
    assert len(rows) == 4  # quick: scales 1, 0.046, 0.0022, 0.0001
    by_scale = {float(w): (float(bn), float(plain)) for w, bn, plain in rows}
    small = min(by_scale)
    assert by_scale[small][0] > by_scale[small][1] + 0.2  # batch norm learns from tiny weights
    assert all(bn > 0.2 for bn, _ in by_scale.values())
    assert_figures(tmp_path, "ch6_batch_norm.png")


@needs_mnist
def test_ch6_dropout(tmp_path):
    out = run_example("ch6_dropout.py", tmp_path)
    final = {label: (float(tr), float(te), float(gap)) for label, tr, te, gap in re.findall(
        r"(no dropout|dropout 0.2): final train acc ([\d.]+), test acc ([\d.]+), "
        r"gap ([\d.-]+)", out)}
    assert set(final) == {"no dropout", "dropout 0.2"}
    assert final["no dropout"][0] > 0.6  # 60 epochs of 3 steps
    assert final["dropout 0.2"][2] < final["no dropout"][2]  # dropout narrows the gap
    assert_figures(tmp_path, "ch6_dropout.png")


@needs_mnist
def test_ch6_hyperparameter_search(tmp_path):
    out = run_example("ch6_hyperparameter_search.py", tmp_path)
    best = floats(r"Best-\d+\(val acc:([\d.]+)\)", out)
    assert len(best) == 10 and best == sorted(best, reverse=True)
    assert best[0] > 0.3  # 20 trials of 20 epochs on 400 images
    assert "20 trials of 20 epochs" in out
    assert_figures(tmp_path, "ch6_hyperparameter_search.png")


@needs_mnist
def test_ch6_hyperparameter_search_with_scikit_learn(tmp_path):
    pytest.importorskip("sklearn", reason="scikit-learn is in the sklearn extra")
    out = run_example("ch6_hyperparameter_search.py", tmp_path, "--sklearn")
    assert "RandomizedSearchCV: 20 trials of 20 epochs" in out
    best = floats(r"Best-\d+\(val acc:([\d.]+)\)", out)
    assert len(best) == 10 and best == sorted(best, reverse=True)
    assert best[0] > 0.3  # as the loop's search: He initialisation, 20 epochs on 400 images
    lrs = floats(r"\| lr:([\d.]+),", out)
    decays = floats(r"weight decay:([\d.e+-]+)", out)
    assert all(1e-6 <= lr <= 1e-2 for lr in lrs)  # loguniform(1e-6, 1e-2)
    assert all(1e-8 <= wd <= 1e-4 for wd in decays)  # alpha / batch size: the book's λ
    assert_figures(tmp_path, "ch6_hyperparameter_search_sklearn.png")


def test_digits_pytorch_style(tmp_path):
    out = run_example("digits_pytorch_style.py", tmp_path)
    losses = floats(r"step +\d+  loss ([\d.]+)", out)
    assert len(losses) == 6 and losses == sorted(losses, reverse=True)
    test_losses = floats(r"  test loss ([\d.]+)\n", out)
    assert len(test_losses) == 6 and test_losses == sorted(test_losses, reverse=True)
    assert floats(r"test accuracy ([\d.]+)", out)[0] > 0.85  # 300 steps; 1000 give ~0.95
    assert_figures(tmp_path, "digits_loss.png", "digits_weights.png", "digits_confusion.png")


# --- every example is tested, documented and runnable the same way ----------------------


def test_every_example_has_a_test_and_a_docstring():
    tested = {name[len("test_"):] + ".py" for name in globals() if name.startswith("test_")}
    untested = sorted(set(SCRIPTS) - tested)
    assert not untested, f"examples without a test: {untested}"
    for name in SCRIPTS:
        doc = ast.get_docstring(ast.parse((EXAMPLES / name).read_text(encoding="utf-8")))
        assert doc, f"{name} has no module docstring"
        assert "Prints" in doc, f"{name}: the docstring should say what the example prints"
        assert "Writes" in doc or "No figure" in doc, f"{name}: say which figures it writes"


def test_every_example_is_listed_in_the_docs():
    page = (ROOT / "docs" / "examples.md").read_text(encoding="utf-8")
    missing = [name for name in SCRIPTS if f"examples/{name}" not in page]
    assert not missing, f"docs/examples.md does not list {missing}"


def test_quick_mode_from_the_option_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # _common sets it if unset; keep this process clean
    sys.path.insert(0, str(EXAMPLES))
    try:
        import _common
    finally:
        sys.path.remove(str(EXAMPLES))
    monkeypatch.delenv("NUMBANN_EXAMPLES_QUICK", raising=False)
    out = ["--out", str(tmp_path / "out")]
    assert _common.parse_args("doc", out).quick is False
    assert _common.parse_args("doc", ["--quick", *out]).quick is True
    assert (tmp_path / "out").is_dir()
    monkeypatch.setenv("NUMBANN_EXAMPLES_QUICK", "1")
    assert _common.parse_args("doc", out).quick is True
    monkeypatch.setenv("NUMBANN_EXAMPLES_QUICK", "0")
    assert _common.parse_args("doc", out).quick is False
