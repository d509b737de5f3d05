"""The ``numbann`` command line: train, evaluate, gradcheck, info.

    numbann train                       # 784-100-10 ReLU on MNIST, Adam, 5 epochs
    numbann train --dataset digits      # the 8x8 digits shipped with numbann, no download
    numbann evaluate model.npz
    numbann gradcheck
    numbann info

Also ``python -m numbann ...``. :func:`main` takes the argument list and
returns the exit status: 0 success, 1 a problem while running (missing or
corrupt data, CUDA unavailable, training diverged, unreadable model file),
2 bad arguments. Expected problems are reported as one line on stderr,
never as a traceback.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]

DATASETS = ("mnist", "fashion-mnist", "kmnist", "digits")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
#: learning rate used when --lr is not given
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "adagrad": 0.01, "rmsprop": 0.001, "adam": 0.001}
#: the 75/25 train/test split of the digits uses this seed, whatever --seed says, so that
#: ``numbann evaluate`` sees the same test set as ``numbann train``
DIGITS_SPLIT_SEED = 0
#: epochs used when --epochs is not given (digits: 11 steps per epoch at batch 128)
DEFAULT_EPOCHS = {"mnist": 5, "digits": 40}
DIGITS_TEST_SIZE = 0.25
_MNIST_FILE = "train-images-idx3-ubyte"


class CLIError(Exception):
    """An expected problem: printed as ``numbann: error: <message>``, exit status 1."""


# --- argument types ------------------------------------------------------------------


def _int_at_least(low, what):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonneg_int = _int_at_least(0, "an integer >= 0")


def _float_in(low, high=math.inf, *, low_open=False, what="a number"):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value >= high:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_float = _float_in(0.0, low_open=True, what="a positive number")
_nonneg_float = _float_in(0.0, what="a number >= 0")
_momentum = _float_in(0.0, 1.0, what="a number in [0, 1)")


# --- the parser ------------------------------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks and shows every meaningful default."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, argparse.SUPPRESS)
                or not action.option_strings):
            return text
        if isinstance(default, list):
            default = " ".join(map(str, default))
        return f"{text} (default: {default})"


def _data_options(p, auto=False):
    """--dataset (default mnist; with *auto*, chosen from the model), --data-dir,
    --no-download."""
    p.add_argument("--dataset", choices=DATASETS, default=None if auto else "mnist",
                   help="data set: MNIST (or Fashion-MNIST, KMNIST) 28x28 images, or the 8x8 "
                        "digits shipped inside numbann (1797 images, split 75/25 with a fixed "
                        "seed)" + ("; default: chosen from the model's input width (784: "
                                   "mnist, 64: digits)" if auto else ""))
    p.add_argument("--data-dir", metavar="DIR", default=None,
                   help="directory holding the four MNIST .gz files (or a root with them in "
                        "DIR/mnist/); default: $NUMBANN_DATA/<dataset>, else the per-user "
                        "cache, downloading missing files")
    p.add_argument("--no-download", action="store_true",
                   help="never download: fail if the files are not found")


def _output_options(p):
    p.add_argument("--json", action="store_true",
                   help="print the results as one JSON object on stdout (tables go to stderr)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="print only the results")
    g.add_argument("-v", "--verbose", action="store_true", help="print more detail")


def build_parser():
    """The argparse parser of the ``numbann`` command."""
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="numbann", formatter_class=_Formatter,
        description="Dense neural networks made fast with Numba: train and check networks "
                    "from 「ゼロから作るDeep Learning」 (chapters 3-6) on MNIST or the 8x8 digits.",
        epilog="Run 'numbann COMMAND --help' for the options of a command.\n"
               "Exit status: 0 ok, 1 a problem while running (missing data, diverged "
               "training, ...), 2 bad arguments.")
    parser.add_argument("--version", action="version", version=f"numbann {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # train
    p = sub.add_parser(
        "train", formatter_class=_Formatter, help="train a network and report test accuracy",
        description="Train a fully connected network (Linear → activation → … → Linear, "
                    "softmax cross-entropy loss) with mini-batches, print one table row per "
                    "epoch (training loss and accuracy, test loss and accuracy, time) and the "
                    "final test accuracy.\n\n"
                    "The default, 784-100-10 ReLU with Adam (lr 0.001, batch 128) for 5 epochs, "
                    "reaches about 97% test accuracy on MNIST in a few seconds per epoch.",
        epilog="examples:\n"
               "  numbann train --dataset digits --epochs 20\n"
               "  numbann train --hidden 256 128 --epochs 10 --save mlp.npz --plot mlp.png\n"
               "  numbann train --hidden 50 --activation sigmoid --optimizer sgd --lr 0.1 "
               "--batch-size 100 --epochs 17   # the textbook's TwoLayerNet recipe\n"
               "  numbann train --json > metrics.json")
    _data_options(p)
    m = p.add_argument_group("model")
    m.add_argument("--hidden", type=_positive_int, nargs="*", default=[100], metavar="N",
                   help="hidden layer sizes (none for a linear softmax classifier)")
    m.add_argument("--activation", choices=ACTIVATIONS, default="relu",
                   help="activation after each hidden layer (weights start with He init for "
                        "relu, Xavier for sigmoid and tanh)")
    m.add_argument("--weight-decay", type=_nonneg_float, default=0.0, metavar="LAMBDA",
                   help="L2 penalty ½λΣ‖W‖² on the weights, added to the loss (the textbook's "
                        "weight_decay_lambda)")
    o = p.add_argument_group("optimization")
    o.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="update rule")
    o.add_argument("--lr", type=_positive_float, default=None,
                   help="learning rate; default: " + ", ".join(
                       f"{k} {v:g}" for k, v in DEFAULT_LR.items()))
    o.add_argument("--momentum", type=_momentum, default=None,
                   help="momentum for sgd, momentum (default 0.9) and rmsprop (default 0)")
    o.add_argument("--epochs", type=_positive_int, default=None,
                   help="passes over the data; default: "
                        + ", ".join(f"{v} for {k}" for k, v in DEFAULT_EPOCHS.items()))
    o.add_argument("--batch-size", type=_positive_int, default=128, help="mini-batch size")
    o.add_argument("--seed", type=_nonneg_int, default=0,
                   help="seed of the initial weights and the batch order")
    o.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to train (cuda needs an NVIDIA GPU and numbann[cuda])")
    out = p.add_argument_group("output")
    out.add_argument("--save", metavar="MODEL.npz", default=None,
                     help="save the trained model there (load it with numbann.load or "
                          "'numbann evaluate')")
    out.add_argument("--plot", metavar="FILE.png", default=None,
                     help="save a plot of the loss and accuracy curves there")
    _output_options(out)
    p.set_defaults(func=cmd_train)

    # evaluate
    p = sub.add_parser(
        "evaluate", formatter_class=_Formatter, help="loss and accuracy of a saved model",
        description="Load a model saved by 'numbann train --save' (or numbann.save) and print "
                    "its loss and accuracy on the test set of the data set.")
    p.add_argument("model", metavar="MODEL.npz", help="the model file")
    _data_options(p, auto=True)
    p.add_argument("--batch-size", type=_positive_int, default=1000,
                   help="rows per forward pass")
    _output_options(p)
    p.set_defaults(func=cmd_evaluate)

    # gradcheck
    p = sub.add_parser(
        "gradcheck", formatter_class=_Formatter,
        help="compare backprop with the numerical gradient",
        description="Gradient check, as the textbook's gradient_check.py: build a TwoLayerNet "
                    "(784-50-10 with weight_init_std 0.01) in float64, take the first few "
                    "training images, and compare the backprop gradient of every parameter with "
                    "the numerical (central difference) one. Prints per parameter the maximum "
                    "and mean absolute difference (the textbook prints the mean) and the "
                    "relative difference ‖backprop − numerical‖ / max(‖backprop‖, "
                    "‖numerical‖). Exits with status 1 if a relative difference exceeds --tol.")
    _data_options(p)
    p.add_argument("--samples", type=_positive_int, default=3,
                   help="number of training images (the textbook uses 3)")
    p.add_argument("--hidden", type=_positive_int, default=50, metavar="N",
                   help="hidden layer size")
    p.add_argument("--activation", choices=("relu", "sigmoid"), default="relu",
                   help="hidden activation (relu: chapter 5's TwoLayerNet, sigmoid: chapter 4's)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the initial weights")
    p.add_argument("--eps", type=_positive_float, default=1e-4,
                   help="step h of the central differences")
    p.add_argument("--tol", type=_positive_float, default=1e-6,
                   help="largest relative difference that passes")
    _output_options(p)
    p.set_defaults(func=cmd_gradcheck)

    # info
    p = sub.add_parser(
        "info", formatter_class=_Formatter,
        help="versions, threading layer, threads, BLAS and CUDA status",
        description="Print the versions of numbann and its dependencies, Numba's threading "
                    "layer and thread count, the BLAS, JIT cache and CUDA status (as "
                    "numbann.show_config()). Include this in bug reports.")
    p.add_argument("--json", action="store_true", help="print as one JSON object")
    p.set_defaults(func=cmd_info)

    # warmup
    p = sub.add_parser(
        "warmup", formatter_class=_Formatter,
        help="compile the training path now (it is cached for later runs)",
        description="Compile numbann's CPU kernels for training, evaluation and inference "
                    "and store them in Numba's on-disk cache, so that the first real run "
                    "starts at once. The compile takes 15-25 s on 2 cores the first time; "
                    "with a warm cache this command finishes in about a second.")
    p.add_argument("--dtype", choices=("float32", "float64", "both"), default="float32",
                   help="the parameter dtype(s) to compile for")
    p.add_argument("--numerical-gradient", action="store_true",
                   help="also compile the compiled numerical gradient")
    p.set_defaults(func=cmd_warmup)
    return parser


# --- shared helpers ---------------------------------------------------------------------


class _Out:
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
        if self.json:
            print(json.dumps(_jsonable(obj), allow_nan=False))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _mnist_dir(name, data_dir):
    """--data-dir as load_mnist's data_dir: the directory itself, or DIR/<name>/ when the
    files are not directly in DIR but there is such a subdirectory."""
    if data_dir is None:
        return None
    path = Path(data_dir).expanduser()
    has_files = any((path / f"{_MNIST_FILE}{ext}").is_file() for ext in (".gz", ""))
    if not has_files and (path / name).is_dir():
        return path / name
    return path


def _where_looked(name, data_dir):
    """The directory load_mnist looks in, and why (for the one-line error message)."""
    if data_dir is not None:
        return f"{data_dir} (--data-dir)"
    env = os.environ.get("NUMBANN_DATA")
    if env:
        return f"{Path(env).expanduser() / name} ($NUMBANN_DATA/{name})"
    from .datasets import user_cache_dir

    return f"{user_cache_dir() / name} (the per-user cache)"


def load_data(name, data_dir=None, download=True, dtype=np.float32):
    """(x_train, t_train, x_test, t_test) for a data set name of the command line.

    Images are flattened and scaled to [0, 1]; labels are int64. Raises
    :class:`CLIError` with a one-line message when the data cannot be read.
    """
    from .datasets import CorruptDataError, DatasetNotFoundError, load_digits, load_mnist

    if name == "digits":
        from .datasets import train_test_split

        x, t = load_digits(normalize=True, dtype=dtype)
        x_train, x_test, t_train, t_test = train_test_split(
            x, t, test_size=DIGITS_TEST_SIZE, seed=DIGITS_SPLIT_SEED)
        return x_train, t_train, x_test, t_test
    directory = _mnist_dir(name, data_dir)
    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(
            normalize=True, flatten=True, name=name, data_dir=directory, download=download,
            dtype=dtype)
    except DatasetNotFoundError as exc:
        problem = str(exc).splitlines()[0]
        fetch = ("" if download else
                 ", or drop --no-download to download them")
        raise CLIError(
            f"{problem}; looked in {_where_looked(name, directory)}. Fix: --data-dir DIR "
            f"(the directory with the four .gz files) or NUMBANN_DATA=ROOT (files in "
            f"ROOT/{name}/){fetch}") from None
    except CorruptDataError as exc:
        raise CLIError(f"corrupt data file {exc}. Delete or replace it (numbann downloads "
                       "missing files again)") from None
    return x_train, t_train, x_test, t_test


def _check_writable(path, option):
    """Fail early (before training) if *path* cannot be written."""
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise CLIError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"{option} {path}: directory {parent} is not writable")
    if Path(path).is_dir():
        raise CLIError(f"{option} {path}: is a directory")


def _cell(fmt, value):
    """*value* formatted for a table: '-' for a missing value, exponent form for huge ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and fmt == "{:.4f}" and not abs(value) < 1e4:
        return f"{value:.3e}"
    return fmt.format(value)


def _format_table(header, rows, formats):
    cells = [[_cell(fmt, v) for fmt, v in zip(formats, row)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return lines


# --- train ------------------------------------------------------------------------------


def make_optimizer(name, params, lr=None, momentum=None):
    """The optimizer *name* of the command line with its CLI defaults."""
    from . import optim

    lr = DEFAULT_LR[name] if lr is None else lr
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum or 0.0)
    if name == "momentum":
        return optim.Momentum(params, lr=lr, momentum=0.9 if momentum is None else momentum)
    if name == "adagrad":
        return optim.AdaGrad(params, lr=lr)
    if name == "rmsprop":
        return optim.RMSProp(params, lr=lr, momentum=momentum or 0.0)
    return optim.Adam(params, lr=lr)


def make_model(in_features, hidden, out_features, activation, weight_decay=0.0, seed=0):
    """The textbook's MultiLayerNet (He init for relu, Xavier for sigmoid/tanh)."""
    from .models import MultiLayerNet

    return MultiLayerNet(in_features, list(hidden), out_features, activation=activation,
                         weight_init_std="relu" if activation == "relu" else "sigmoid",
                         weight_decay_lambda=weight_decay, rng=seed)


def _check_device(device):
    """A one-line error now, before loading data, if 'cuda' cannot be used."""
    if device == "cuda":
        from ._cuda import CudaUnavailableError, require_cuda

        try:
            require_cuda()
        except CudaUnavailableError as exc:
            raise CLIError(str(exc)) from None


def _architecture(model):
    """'784-100-10': the widths of the Linear layers."""
    linears = model.linears
    return "-".join(str(n) for n in [linears[0].in_features]
                    + [layer.out_features for layer in linears])


def cmd_train(args, out):
    import numbann as nb

    if args.momentum is not None and args.optimizer in ("adagrad", "adam"):
        raise _UsageError(f"--momentum does not apply to --optimizer {args.optimizer}")
    for path, option in ((args.save, "--save"), (args.plot, "--plot")):
        if path is not None:
            _check_writable(path, option)
    _check_device(args.device)
    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS.get(args.dataset, DEFAULT_EPOCHS["mnist"])

    t0 = time.perf_counter()
    x_train, t_train, x_test, t_test = load_data(args.dataset, args.data_dir,
                                                 not args.no_download)
    load_time = time.perf_counter() - t0
    n_classes = int(max(t_train.max(), t_test.max())) + 1
    model = make_model(x_train.shape[1], args.hidden, n_classes, args.activation,
                       args.weight_decay, args.seed)
    loss_fn = nb.CrossEntropyLoss()
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum)

    arch = _architecture(model)
    act = {"relu": "ReLU", "sigmoid": "sigmoid", "tanh": "tanh"}[args.activation]
    out.table(f"{args.dataset}: {len(x_train)} training, {len(x_test)} test samples "
              f"(loaded in {load_time:.2f}s)")
    out.table(f"model {arch} {act}, {optimizer!r}, batch {args.batch_size}, "
              f"{args.epochs} epochs, seed {args.seed}"
              + (f", weight decay {args.weight_decay:g}" if args.weight_decay else ""))
    header = ["epoch", "loss", "accuracy", "test_loss", "test_acc", "time"]
    formats = ["{:d}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.2f}s"]
    widths = [max(len(h), 6) for h in header]
    out.table("  ".join(h.rjust(w) for h, w in zip(header, widths)))

    class _Report(nb.Callback):  # one table row per epoch, as it ends
        def on_epoch_end(self, trainer, epoch, logs):
            row = [epoch + 1, logs["loss"], logs["accuracy"], logs.get("val_loss"),
                   logs.get("val_accuracy"), trainer.history.history["epoch_time"][-1]]
            cells = [_cell(f, v) for f, v in zip(formats, row)]
            out.table("  ".join(c.rjust(w) for c, w in zip(cells, widths)))

    t0 = time.perf_counter()
    try:
        model.to(args.device)
        trainer = nb.Trainer(model, loss_fn, optimizer, batch_size=args.batch_size,
                             seed=args.seed, verbose=1 if out.verbose else 0,
                             callbacks=[_Report()])
        trainer.announce_compile = not out.quiet  # a cold first compile takes a while
        history = trainer.fit(x_train, t_train, epochs=args.epochs,
                              validation_data=(x_test, t_test))
    except nb.TrainingDiverged as exc:
        raise CLIError(str(exc)) from None
    train_time = time.perf_counter() - t0
    test_loss, test_acc = nb.evaluate(model, loss_fn, x_test, t_test)
    if out.verbose:
        jit = history.params.get("jit_time")
        out.table(f"engine: {history.params.get('engine')}, {history.params.get('steps')} "
                  f"steps per epoch, training took {train_time:.2f}s"
                  + (f" (of which {jit:.2f}s compiling or loading the engine)" if jit else ""))

    saved = plotted = None
    if args.save:
        try:
            nb.save(model, args.save)
        except OSError as exc:
            raise CLIError(f"could not save the model to {args.save}: {exc}") from None
        saved = str(args.save)
    if args.plot:
        plotted = _save_history_plot(history, args.plot, f"{args.dataset} {arch} {act}")

    out.result(f"test accuracy: {test_acc:.4f} (loss {test_loss:.4f}) after {args.epochs} "
               f"epochs, {train_time:.1f}s")
    if saved and not out.quiet:
        out.result(f"saved model to {saved}")
    if plotted and not out.quiet:
        out.result(f"saved plot to {plotted}")
    out.emit_json({
        "command": "train", "dataset": args.dataset,
        "train_samples": len(x_train), "test_samples": len(x_test),
        "model": {"architecture": arch, "sizes": [int(s) for s in arch.split("-")],
                  "activation": args.activation, "weight_decay": args.weight_decay},
        "optimizer": {"name": args.optimizer, **optimizer.hyperparameters},
        "epochs": len(history.epoch), "batch_size": args.batch_size, "seed": args.seed,
        "device": args.device, "engine": history.params.get("engine"),
        "jit_time": history.params.get("jit_time"),
        # per epoch; History's val_loss/val_accuracy are the test set's here, named so
        "history": {"epoch": [e + 1 for e in history.epoch],
                    "loss": history.history["loss"], "accuracy": history.history["accuracy"],
                    "test_loss": history.history["val_loss"],
                    "test_accuracy": history.history["val_accuracy"],
                    "epoch_time": history.history["epoch_time"]},
        "test_loss": test_loss, "test_accuracy": test_acc, "train_time": train_time,
        "saved": saved, "plot": plotted,
    })
    return 0


def _save_history_plot(history, path, title):
    from . import plot

    try:
        fig = plot.plot_history(history, path=path, val_label="test", title=title)
    except OSError as exc:
        raise CLIError(f"could not save the plot to {path}: {exc}") from None
    import matplotlib.pyplot as plt

    plt.close(fig)
    return str(path)


# --- evaluate ---------------------------------------------------------------------------


def _load_model(path):
    import numbann as nb

    try:
        return nb.load(path)
    except FileNotFoundError:
        raise CLIError(f"no model file at {path}") from None
    except (ValueError, OSError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None


def _dataset_for(model, name):
    widths = {784: "mnist", 64: "digits"}
    if name is None:
        name = widths.get(model.in_features)
        if name is None:
            raise CLIError(f"the model takes {model.in_features} inputs, which matches no data "
                           "set (mnist has 784, digits 64)")
    return name


def cmd_evaluate(args, out):
    import numbann as nb

    model = _load_model(args.model)
    name = _dataset_for(model, args.dataset)
    _, _, x_test, t_test = load_data(name, args.data_dir, not args.no_download,
                                     dtype=model.dtype)
    if model.in_features != x_test.shape[1]:
        other = {784: " (an MNIST model? use --dataset mnist)",
                 64: " (a digits model? use --dataset digits)"}.get(model.in_features, "")
        raise CLIError(f"{args.model} takes {model.in_features} inputs but {name} images have "
                       f"{x_test.shape[1]} pixels{other}")
    n_classes = int(t_test.max()) + 1
    if model.out_features != n_classes:
        raise CLIError(f"{args.model} has {model.out_features} outputs but {name} has "
                       f"{n_classes} classes")
    t0 = time.perf_counter()
    loss, acc = nb.evaluate(model, nb.CrossEntropyLoss(), x_test, t_test,
                            batch_size=args.batch_size)
    elapsed = time.perf_counter() - t0
    arch = _architecture(model)
    out.table(f"model {args.model}: {type(model).__name__} {arch}, {model.dtype}")
    out.result(f"{name} test set, {len(x_test)} samples: loss {loss:.4f}, accuracy {acc:.4f}")
    if out.verbose:
        out.table(f"evaluated in {elapsed:.3f}s")
    out.emit_json({"command": "evaluate", "model": str(args.model), "dataset": name,
                   "architecture": arch, "samples": len(x_test), "loss": loss,
                   "accuracy": acc})
    return 0


# --- gradcheck --------------------------------------------------------------------------


def cmd_gradcheck(args, out):
    import numbann as nb

    x_train, t_train, _, _ = load_data(args.dataset, args.data_dir, not args.no_download,
                                       dtype=np.float64)
    if args.samples > len(x_train):
        raise _UsageError(f"--samples {args.samples}: the training set has only "
                          f"{len(x_train)} images")
    x, t = x_train[:args.samples], t_train[:args.samples]
    n_classes = int(t_train.max()) + 1
    net = nb.models.TwoLayerNet(x.shape[1], args.hidden, n_classes, weight_init_std=0.01,
                                activation=args.activation, rng=args.seed, dtype=np.float64)
    t0 = time.perf_counter()
    report = nb.gradient_check(net, x, t, nb.CrossEntropyLoss(), h=args.eps)
    elapsed = time.perf_counter() - t0
    # the textbook's names W1, b1, W2, b2 for the state_dict keys 0.weight, 0.bias, …
    names = {}
    for k, layer in enumerate(net.linears, start=1):
        index = net.layers.index(layer)
        names[f"{index}.weight"] = f"W{k}"
        names[f"{index}.bias"] = f"b{k}"
    arch = f"{x.shape[1]}-{args.hidden}-{n_classes}"
    out.table(f"gradient check: TwoLayerNet {arch} {args.activation}, float64, "
              f"{args.samples} {args.dataset} images, h={args.eps:g}")
    rows, results, ok = [], {}, True
    for key, check in report.items():
        name = names.get(key, key)
        passed = check.rel <= args.tol
        ok &= passed
        rows.append([name, check.max_abs, check.rel, check.mean_abs, "ok" if passed else "FAIL"])
        results[name] = {"max_abs": check.max_abs, "rel": check.rel,
                         "mean_abs": check.mean_abs, "ok": passed}
    lines = _format_table(["param", "max abs", "rel", "mean abs", "check"], rows,
                          ["{}", "{:.2e}", "{:.2e}", "{:.2e}", "{}"])
    for line in lines:
        out.result(line)
    verdict = ("backprop matches the numerical gradient" if ok else
               f"MISMATCH: a relative difference exceeds {args.tol:g}")
    if not ok and args.activation == "relu":
        kinks = _relu_kinks(net, x, args.eps)
        if kinks:
            verdict += (f". {kinks} hidden pre-activations lie within h of ReLU's kink at 0, "
                        "where the central difference is wrong; try --activation sigmoid, "
                        "another --seed or a smaller --eps")
    out.result(f"{verdict} ({elapsed:.2f}s)")
    out.emit_json({"command": "gradcheck", "model": f"TwoLayerNet {arch}",
                   "activation": args.activation, "dataset": args.dataset,
                   "samples": args.samples, "h": args.eps, "tol": args.tol, "ok": ok,
                   "parameters": results})
    return 0 if ok else 1


def _relu_kinks(net, x, h):
    """How many first-layer pre-activations are close enough to 0 that a step of h in a
    weight or bias can cross ReLU's kink (|z| < h·(1 + Σ|x|))."""
    first = net.linears[0]
    z = x @ first.weight.data + first.bias.data
    reach = h * (1.0 + np.abs(x).sum(axis=1, keepdims=True))
    return int(np.sum(np.abs(z) < reach))


# --- info -------------------------------------------------------------------------------


def cmd_info(args, out):
    from ._info import config_info, show_config

    if args.json:
        print(json.dumps(_jsonable(config_info())))
    else:
        show_config()
    return 0


def cmd_warmup(args, out):
    from ._warmup import warmup

    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    for name, seconds in warmup(dtypes, args.numerical_gradient).items():
        print(f"{name}: ready in {seconds:.1f} s")
    return 0


# --- main -------------------------------------------------------------------------------


class _UsageError(Exception):
    """A bad combination of arguments found after parsing: exit status 2."""


def main(argv=None):
    """Run the ``numbann`` command with *argv* (default ``sys.argv[1:]``); returns the
    exit status: 0 ok, 1 runtime problem, 2 bad arguments."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    out = _Out(args)
    try:
        return args.func(args, out)
    except _UsageError as exc:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
