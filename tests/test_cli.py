"""The numbann command line: outputs, JSON, save/evaluate round trip, exit codes, help.

Most tests call ``main([...])`` in-process on the 8x8 digits (shipped, fast);
one runs ``python -m numbann`` in a subprocess. The MNIST tests read the real
files from $NUMBANN_DATA or ../shared/data and are skipped without them; the
offline tests replace MNIST's mirrors by local servers that refuse, reset,
stall or answer wrongly.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from datasets_support import Mirror, Unreachable, fake_set, set_bytes, write_set

import numbann as nb
from numbann import cli
from numbann._cuda import cuda_status
from numbann.cli import _gradcheck
from numbann.datasets._registry import SETS

SHARED_DATA = Path(os.environ.get("NUMBANN_DATA") or
                   Path(__file__).resolve().parents[2] / "shared" / "data")
HAVE_MNIST = (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").is_file()
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST not found in {SHARED_DATA}/mnist")

#: fast digits training that reaches > 0.9 test accuracy in 2 epochs
DIGITS = ["--dataset", "digits", "--epochs", "2", "--batch-size", "16", "--lr", "0.01"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """No stray NUMBANN_DATA, a private per-user cache, no display, figures closed."""
    monkeypatch.delenv("NUMBANN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cli-cache"))
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def run(capsys, *args):
    """(exit status, stdout, stderr) of main(args)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err, *needles):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("numbann ") and "error:" in lines[0]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, err)


# --- train ---------------------------------------------------------------------------


def test_train_announces_a_slow_first_compile_unless_quiet(capsys, monkeypatch):
    import time

    from numbann import _progress, _runners

    run_steps = _runners.CompiledRunner.run

    def slow_when_empty(self, order, contiguous, lo, hi, *rest):
        if lo == hi:  # the engine's preparing call, standing in for a cold compile
            time.sleep(0.2)
        return run_steps(self, order, contiguous, lo, hi, *rest)

    monkeypatch.setattr(_runners.CompiledRunner, "run", slow_when_empty)
    monkeypatch.setattr(_progress, "NOTICE_AFTER", 0.01)
    code, out, err = run(capsys, "train", *DIGITS)
    assert code == 0, err
    assert "compiling the training engine" in err and "numbann warmup" in err
    code, out, err = run(capsys, "train", *DIGITS, "-q")
    assert code == 0 and "compiling" not in err + out
    code, out, err = run(capsys, "train", *DIGITS, "--json", "-q")
    assert json.loads(out)["jit_time"] >= 0.2


def test_train_digits_prints_a_table_and_the_test_accuracy(capsys):
    code, out, err = run(capsys, "train", *DIGITS)
    assert code == 0, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["epoch"])
    assert lines[header].split() == ["epoch", "loss", "accuracy", "test_loss", "test_acc",
                                     "time"]
    rows = [line.split() for line in lines[header + 1:header + 3]]
    assert [r[0] for r in rows] == ["1", "2"]
    for row in rows:
        loss, acc, test_loss, test_acc = map(float, row[1:5])
        assert 0 < loss < 3 and 0 < test_loss < 3 and 0 <= acc <= 1 and 0 <= test_acc <= 1
        assert row[5].endswith("s")
    assert float(rows[1][1]) < float(rows[0][1])  # the loss goes down
    assert "digits: 1347 training, 450 test samples" in out
    assert "64-100-10 ReLU" in out
    final = [line for line in lines if line.startswith("test accuracy:")]
    assert len(final) == 1 and float(final[0].split()[2]) == float(rows[1][4])
    assert err == ""


def test_train_json_is_one_object_on_stdout_with_the_table_on_stderr(capsys):
    code, out, err = run(capsys, "train", *DIGITS, "--json")
    assert code == 0, err
    result = json.loads(out)  # the whole of stdout is one JSON object
    assert {"dataset", "model", "optimizer", "epochs", "history", "test_loss", "test_accuracy",
            "train_time", "engine", "saved", "plot"} <= set(result)
    assert result["dataset"] == "digits" and result["epochs"] == 2
    assert result["model"]["sizes"] == [64, 100, 10]
    assert result["optimizer"]["name"] == "adam" and result["optimizer"]["lr"] == 0.01
    assert 0.85 < result["test_accuracy"] <= 1
    history = result["history"]
    assert history["epoch"] == [1, 2]
    for key in ("loss", "accuracy", "test_loss", "test_accuracy", "epoch_time"):
        assert len(history[key]) == 2
    assert all(0 <= a <= 1 for a in history["accuracy"] + history["test_accuracy"])
    assert history["test_accuracy"][-1] == result["test_accuracy"]
    assert "epoch" in err and "test_acc" in err  # the table went to stderr


def test_train_quiet_prints_only_the_result(capsys):
    code, out, err = run(capsys, "train", *DIGITS, "--quiet")
    assert code == 0
    assert out.startswith("test accuracy:") and len(out.splitlines()) == 1
    assert err == ""


def test_train_is_reproducible_with_a_seed(capsys):
    first = json.loads(run(capsys, "train", *DIGITS, "--json", "-q", "--seed", "3")[1])
    second = json.loads(run(capsys, "train", *DIGITS, "--json", "-q", "--seed", "3")[1])
    other = json.loads(run(capsys, "train", *DIGITS, "--json", "-q", "--seed", "4")[1])
    assert first["history"]["loss"] == second["history"]["loss"]
    assert first["history"]["loss"] != other["history"]["loss"]


@pytest.mark.parametrize("optimizer, extra", [
    ("sgd", ["--lr", "0.5"]), ("momentum", ["--momentum", "0.8"]), ("adagrad", []),
    ("rmsprop", ["--lr", "0.003"]),
])
def test_train_with_every_optimizer_and_options(capsys, optimizer, extra):
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "3",
                         "--batch-size", "16", "--hidden", "32", "16", "--activation", "tanh",
                         "--weight-decay", "1e-4", "--optimizer", optimizer, *extra, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["optimizer"]["name"] == optimizer
    assert result["model"] == {"architecture": "64-32-16-10", "sizes": [64, 32, 16, 10],
                               "activation": "tanh", "weight_decay": 1e-4,
                               "batchnorm": False, "dropout": 0.0}
    if optimizer == "momentum":
        assert result["optimizer"]["momentum"] == 0.8
    assert result["test_accuracy"] > 0.5


def test_train_without_hidden_layers_is_softmax_regression(capsys):
    code, out, _ = run(capsys, "train", *DIGITS, "--hidden", "--json")
    assert code == 0
    assert json.loads(out)["model"]["sizes"] == [64, 10]


def test_save_then_evaluate_gives_the_same_accuracy(capsys, tmp_path):
    path = tmp_path / "digits.npz"
    code, out, _ = run(capsys, "train", *DIGITS, "--save", path, "--json")
    assert code == 0 and path.is_file()
    trained = json.loads(out)
    assert trained["saved"] == str(path)
    # the dataset is found from the model's input width (64: digits)
    code, out, err = run(capsys, "evaluate", path, "--json")
    assert code == 0, err
    evaluated = json.loads(out)
    assert evaluated["dataset"] == "digits" and evaluated["samples"] == 450
    assert evaluated["accuracy"] == trained["test_accuracy"]
    assert evaluated["loss"] == pytest.approx(trained["test_loss"], rel=1e-6)
    code, out, _ = run(capsys, "evaluate", path, "--dataset", "digits")
    assert code == 0
    assert f"accuracy {trained['test_accuracy']:.4f}" in out and "450 samples" in out
    model = nb.load(path)
    assert model.in_features == 64 and model.out_features == 10


def test_train_plot_writes_a_png(capsys, tmp_path):
    path = tmp_path / "history.png"
    code, out, _ = run(capsys, "train", *DIGITS, "--plot", path)
    assert code == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert f"saved plot to {path}" in out


def test_train_verbose_reports_the_engine(capsys):
    code, out, _ = run(capsys, "train", *DIGITS, "--verbose")
    assert code == 0
    assert "engine: compiled" in out


# --- exit status 2: bad arguments --------------------------------------------------------


@pytest.mark.parametrize("args", [
    [],
    ["fly"],
    ["train", "--bogus"],
    ["train", "--epochs", "0"],
    ["train", "--epochs", "two"],
    ["train", "--lr", "-0.1"],
    ["train", "--lr", "nan"],
    ["train", "--hidden", "0"],
    ["train", "--activation", "softplus"],
    ["train", "--optimizer", "lbfgs"],
    ["train", "--momentum", "1.5"],
    ["train", "--dataset", "cifar10"],
    ["train", "--device", "tpu"],
    ["train", "--quiet", "--verbose"],
    ["evaluate"],
    ["gradcheck", "--samples", "0"],
])
def test_bad_arguments_exit_2_with_usage(capsys, args):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert "usage: numbann" in err and "error:" in err and "Traceback" not in err
    assert out == ""


@pytest.mark.parametrize("optimizer", ["adam", "adagrad"])
def test_momentum_with_an_optimizer_without_momentum_exits_2(capsys, optimizer):
    code, _, err = run(capsys, "train", "--dataset", "digits", "--optimizer", optimizer,
                       "--momentum", "0.9")
    assert code == 2
    assert f"--momentum does not apply to --optimizer {optimizer}" in err
    assert "usage:" in err


def test_gradcheck_more_samples_than_images_exits_2(capsys):
    code, _, err = run(capsys, "gradcheck", "--dataset", "digits", "--samples", "5000")
    assert code == 2 and "only 1347" in err


# --- exit status 1: problems while running -------------------------------------------------


def test_missing_mnist_exits_1_naming_where_it_looked(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--data-dir", tmp_path, "--no-download")
    assert code == 1 and out == ""
    assert_one_line_error(err, str(tmp_path), "--data-dir", "NUMBANN_DATA", "missing",
                          "downloading is off (--no-download)", "drop --no-download",
                          "numbann train --dataset digits")


def test_missing_mnist_under_numbann_data_names_that_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBANN_DATA", str(tmp_path))
    code, _, err = run(capsys, "evaluate", Path(__file__), "--no-download")
    assert code == 1  # the model file is checked first: not a model
    code, _, err = run(capsys, "gradcheck", "--no-download")
    assert code == 1
    assert_one_line_error(err, str(tmp_path / "mnist"), "$NUMBANN_DATA/mnist")


def test_corrupt_data_exits_1(capsys, tmp_path):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes(b"\x1f\x8b not really gzip")
    code, _, err = run(capsys, "train", "--data-dir", tmp_path, "--no-download")
    assert code == 1
    assert_one_line_error(err, "corrupt", str(tmp_path))


@pytest.mark.skipif(cuda_status()[0], reason="a CUDA device is available here")
def test_cuda_unavailable_exits_1(capsys):
    code, out, err = run(capsys, "train", *DIGITS, "--device", "cuda")
    assert code == 1 and out == ""
    assert_one_line_error(err, "device 'cuda' requested")


def test_diverged_training_exits_1(capsys):
    code, _, err = run(capsys, "train", "--dataset", "digits", "--epochs", "2",
                       "--optimizer", "sgd", "--lr", "1e20", "--quiet")
    assert code == 1
    assert_one_line_error(err, "training diverged", "epoch 1")


def test_unwritable_save_path_fails_before_training(capsys, tmp_path):
    code, out, err = run(capsys, "train", *DIGITS, "--save", tmp_path / "no" / "m.npz")
    assert code == 1 and out == ""  # no table: it stopped before training
    assert_one_line_error(err, "does not exist")


def test_evaluate_problems_exit_1(capsys, tmp_path):
    code, _, err = run(capsys, "evaluate", tmp_path / "missing.npz")
    assert code == 1
    assert_one_line_error(err, "no model file")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    code, _, err = run(capsys, "evaluate", bad, "--dataset", "digits")
    assert code == 1
    assert_one_line_error(err, str(bad))
    # a model whose input width matches no data set
    odd = tmp_path / "odd.npz"
    nb.save(nb.Sequential(nb.Linear(30, 10)), odd)
    code, _, err = run(capsys, "evaluate", odd)
    assert code == 1
    assert_one_line_error(err, "30 inputs")


def test_evaluate_checks_the_input_width_against_the_dataset(capsys, tmp_path):
    path = tmp_path / "digits.npz"
    assert run(capsys, "train", *DIGITS, "--save", path, "-q")[0] == 0
    code, _, err = run(capsys, "evaluate", path, "--dataset", "fashion-mnist",
                       "--data-dir", _fake_dir(tmp_path, "fashion-mnist"))
    assert code == 1
    assert_one_line_error(err, "takes 64 inputs", "784", "--dataset digits")


def test_evaluate_checks_the_number_of_classes(capsys, tmp_path):
    path = tmp_path / "five.npz"
    nb.save(nb.Sequential(nb.Linear(64, 5)), path)
    code, _, err = run(capsys, "evaluate", path)
    assert code == 1
    assert_one_line_error(err, "5 outputs", "10 classes")


# --- the first run without a network --------------------------------------------------------

FIRST_FILE = "train-images-idx3-ubyte.gz"
REASONS = {"refuse": "connection refused", "reset": "connection reset",
           "stall": "timed out (no answer within {t} s)"}


@pytest.fixture
def mnist_mirrors(monkeypatch):
    """make(*servers): MNIST's mirrors replaced by these local servers, in turn."""

    def make(*servers):
        mirrors = tuple(s.url for s in servers)
        monkeypatch.setitem(SETS, "mnist", dataclasses.replace(SETS["mnist"], mirrors=mirrors))
        return servers

    return make


@pytest.fixture
def unreachable():
    made = []
    yield lambda how: made.append(Unreachable(how)) or made[-1]
    for server in made:
        server.close()


@pytest.mark.parametrize(("command", "hows"), [
    ("train", ("refuse", "reset", "stall")),
    ("evaluate", ("refuse", "reset")),
    ("gradcheck", ("reset", "refuse")),
])
def test_offline_first_run_says_why_for_each_mirror_and_what_to_do(
        capsys, tmp_path, mnist_mirrors, unreachable, command, hows):
    servers = mnist_mirrors(*[unreachable(how) for how in hows])
    args = [command]
    if command == "evaluate":  # an MNIST model: evaluate needs MNIST's test set
        args.append(tmp_path / "mnist.npz")
        nb.save(nb.Sequential(nb.Linear(784, 10)), args[-1])
    start = time.perf_counter()
    code, out, err = run(capsys, *args)
    elapsed = time.perf_counter() - start
    assert code == 1 and out == "" and "Traceback" not in err
    lines = err.splitlines()
    # the first file only, once per mirror, each saying how long it may take
    promised = [float(t) for t in re.findall(
        rf"^numbann: downloading \S+/{FIRST_FILE} \(giving up after ([\d.]+) s without an "
        r"answer\)$", err, re.M)]
    assert len(promised) == len(servers) and lines[:len(servers)] == [
        line for line in lines if line.startswith("numbann: downloading")]
    stalls = sum(t for t, how in zip(promised, hows) if how == "stall")
    assert elapsed < stalls + 3.0  # refusals and resets fail at once, a stall when promised
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "numbann" / "mnist"
    error = lines[len(servers):]
    assert error[0] == (f"numbann {command}: error: MNIST data not available in {cache} (the "
                        f"per-user cache): no mirror could be reached to download {FIRST_FILE}")
    assert error[1:1 + len(servers)] == [
        f"  {s.url}{FIRST_FILE}: {REASONS[s.how].format(t=f'{promised[0]:g}')}"
        for s in servers]
    digits = "gradcheck" if command == "gradcheck" else "train"
    assert error[1 + len(servers):] == [
        "Either point numbann at the MNIST files you have: --data-dir DIR (the directory "
        "with the four .gz files) or NUMBANN_DATA=ROOT (files in ROOT/mnist/),",
        "or try the 8x8 digits shipped with numbann, which need no download: "
        f"numbann {digits} --dataset digits"]


def test_mirrors_that_answer_wrongly_are_named_with_their_reasons(capsys, mnist_mirrors):
    missing = Mirror({})  # 404 for everything
    wrong = Mirror(set_bytes(fake_set(np.random.default_rng(0))))  # not the real MNIST
    try:
        mnist_mirrors(missing, wrong)
        code, _, err = run(capsys, "gradcheck")
    finally:
        missing.close()
        wrong.close()
    assert code == 1
    error = err.splitlines()[2:]
    assert error[0].endswith(f"downloading {FIRST_FILE} failed on every mirror")
    assert error[1:3] == [f"  {missing.url}{FIRST_FILE}: HTTP 404 Not Found",
                          f"  {wrong.url}{FIRST_FILE}: checksum mismatch"]
    assert error[-1].endswith("numbann gradcheck --dataset digits")


# --- 28x28 data sets without the real MNIST -----------------------------------------------


def _fake_dir(root, name, n_train=40, n_test=12):
    """A tiny MNIST-format set in root/name (random pixels; no checksum for these sets)."""
    directory = Path(root) / name
    if not directory.is_dir():
        write_set(directory, fake_set(np.random.default_rng(0), n_train, n_test))
    return directory


def test_train_and_evaluate_a_28x28_set_from_a_data_root(capsys, tmp_path):
    _fake_dir(tmp_path, "fashion-mnist")
    path = tmp_path / "fashion.npz"
    # --data-dir may be the root holding fashion-mnist/
    code, out, err = run(capsys, "train", "--dataset", "fashion-mnist", "--data-dir", tmp_path,
                         "--no-download", "--epochs", "1", "--batch-size", "8", "--save", path,
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["train_samples"] == 40 and result["test_samples"] == 12
    assert result["model"]["sizes"] == [784, 100, 10]
    code, out, err = run(capsys, "evaluate", path, "--dataset", "fashion-mnist",
                         "--data-dir", tmp_path / "fashion-mnist", "--json")
    assert code == 0, err
    assert json.loads(out)["accuracy"] == result["test_accuracy"]


# --- gradcheck ----------------------------------------------------------------------------


def test_gradcheck_digits_table_and_small_differences(capsys):
    code, out, err = run(capsys, "gradcheck", "--dataset", "digits", "--activation", "sigmoid")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "gradient check: TwoLayerNet 64-50-10 sigmoid, float64, 3 digits " \
                       "images, h=0.0001"
    assert lines[1].split() == ["param", "max", "abs", "rel", "mean", "abs", "check"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:6]}
    assert list(rows) == ["W1", "b1", "W2", "b2"]
    for values in rows.values():
        assert all(float(v) < 1e-6 for v in values[:3])
        assert values[3] == "ok"
    assert "backprop matches the numerical gradient" in lines[6]


def test_gradcheck_json(capsys):
    code, out, _ = run(capsys, "gradcheck", "--dataset", "digits", "--activation", "sigmoid",
                       "--samples", "5", "--hidden", "7", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["ok"] is True and result["model"] == "TwoLayerNet 64-7-10"
    assert result["samples"] == 5
    assert set(result["parameters"]) == {"W1", "b1", "W2", "b2"}
    for check in result["parameters"].values():
        assert check["ok"] and max(check["max_abs"], check["rel"], check["mean_abs"]) < 1e-6


def test_gradcheck_mismatch_exits_1(capsys):
    # a huge step h makes the central difference inaccurate: the check must fail
    code, out, _ = run(capsys, "gradcheck", "--dataset", "digits", "--activation", "sigmoid",
                       "--eps", "3")
    assert code == 1
    assert "FAIL" in out and "MISMATCH" in out


def test_relu_kink_counter():
    net = nb.models.TwoLayerNet(2, 3, 2, activation="relu", dtype=np.float64)
    net.params["W1"] = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    net.params["b1"] = np.array([0.0, 5e-5, 1.0])
    x = np.array([[0.0, 0.0], [1.0, 1.0]])
    # z = [[0, 5e-5, 1], [1, 1.00005, 1]]: two within reach of the kink for h = 1e-4
    assert _gradcheck._relu_kinks(net, x, 1e-4) == 2
    assert _gradcheck._relu_kinks(net, x, 1e-6) == 1


# --- info, help, version ------------------------------------------------------------------


def test_info(capsys):
    code, out, _ = run(capsys, "info")
    assert code == 0
    for key in ("numbann", "numpy", "numba", "threading layer", "threads", "blas", "cuda"):
        assert any(line.startswith(key + " ") for line in out.splitlines()), key
    assert nb.__version__ in out
    code, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert info["numbann"] == nb.__version__ and isinstance(info["threads"], int)
    assert info["cuda"].startswith(("available", "not available"))


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"numbann {nb.__version__}"


def _actions(parser):
    return [a for a in parser._actions if a.option_strings and a.dest not in ("help", "version")]


def test_help_is_complete(capsys):
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"train", "evaluate", "gradcheck", "info", "warmup"}
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in commands:
        assert name in out
    for name, sub in commands.items():
        code, out, _ = run(capsys, name, "--help")
        assert code == 0
        assert sub.description and sub.description.split()[0] in out
        flat = " ".join(out.split())
        for action in _actions(sub):
            assert action.option_strings[-1] in out, (name, action.option_strings)
            assert action.help, (name, action.dest)
            if action.default not in (None, False):
                shown = (" ".join(map(str, action.default)) if isinstance(action.default, list)
                         else str(action.default))
                assert f"default: {shown}" in flat or "default:" in " ".join(
                    action.help.split()), (name, action.dest)


def test_train_help_shows_the_defaults(capsys):
    code, out, _ = run(capsys, "train", "--help")
    flat = " ".join(out.split())
    for text in ("(default: mnist)", "(default: 100)", "(default: relu)", "(default: adam)",
                 "(default: 128)", "default: 5 for mnist, 40 for digits", "adam 0.001",
                 "(default: cpu)"):
        assert text in flat, text


# --- MNIST (real files) --------------------------------------------------------------------


@needs_mnist
def test_train_one_short_epoch_on_mnist(capsys):
    # --data-dir may be the root with mnist/ in it
    code, out, err = run(capsys, "train", "--data-dir", SHARED_DATA, "--no-download",
                         "--epochs", "1", "--hidden", "50", "--batch-size", "200", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["train_samples"] == 60000 and result["test_samples"] == 10000
    assert result["model"]["sizes"] == [784, 50, 10]
    assert 0.9 < result["test_accuracy"] <= 1


@needs_mnist
def test_gradcheck_mnist_as_the_textbook(capsys, monkeypatch):
    monkeypatch.setenv("NUMBANN_DATA", str(SHARED_DATA))
    code, out, err = run(capsys, "gradcheck", "--no-download", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "TwoLayerNet 784-50-10" and result["activation"] == "relu"
    for check in result["parameters"].values():
        assert check["mean_abs"] < 1e-9 and check["rel"] < 1e-6


# --- the real command ---------------------------------------------------------------------


def test_python_m_numbann_subprocess(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBANN_DATA", "DISPLAY")}
    proc = subprocess.run(
        [sys.executable, "-m", "numbann", "train", *DIGITS, "--json",
         "--plot", str(tmp_path / "h.png")],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["test_accuracy"] > 0.85
    assert "test_acc" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "h.png").stat().st_size > 5000


def test_warmup_compiles_and_reports_each_dtype(capsys):
    code, out, err = run(capsys, "warmup", "--dtype", "both")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["float32", "float64"]
    assert all(re.fullmatch(r"float(32|64): ready in \d+\.\d s", line) for line in lines)


def test_train_with_batchnorm_and_dropout_builds_the_books_extended_net(capsys, tmp_path):
    path = tmp_path / "bn.npz"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "8",
                         "--batchnorm", "--dropout", "0.2", "--json", "-q", "--save", path)
    assert code == 0, err
    result = json.loads(out)
    assert result["model"]["batchnorm"] is True and result["model"]["dropout"] == 0.2
    assert result["engine"] == "compiled" and result["test_accuracy"] > 0.85
    model = nb.load(path)
    assert type(model).__name__ == "MultiLayerNetExtend" and "gamma1" in model.params
    code, out, err = run(capsys, "evaluate", path, "--dataset", "digits", "--json")
    assert code == 0, err
    assert json.loads(out)["accuracy"] == pytest.approx(result["test_accuracy"])
    code, out, err = run(capsys, "train", "--dataset", "digits", "--dropout", "1")
    assert code == 2 and "--dropout" in err


def test_gradcheck_on_a_batch_norm_net(capsys):
    code, out, err = run(capsys, "gradcheck", "--dataset", "digits", "--batchnorm", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["ok"] and result["h"] == 1e-5 and result["batchnorm"]
    assert {"W1", "b1", "gamma1", "beta1", "W2", "b2"} == set(result["parameters"])
    assert max(p["rel"] for p in result["parameters"].values()) < 1e-6
