"""The options of the ``numbann`` command, one function per command (and per option group)."""

import argparse
import math

from .._validate import positive_int
from ._evaluate import cmd_evaluate
from ._gradcheck import cmd_gradcheck
from ._recipes import ACTIVATIONS, DATASETS, DEFAULT_EPOCHS, DEFAULT_LR, OPTIMIZERS
from ._tools import cmd_info, cmd_warmup
from ._train import cmd_train

# --- argument types ------------------------------------------------------------------


def _typed(convert, what):
    """An argparse type: *convert* (text -> value; ValueError when unfit), whose error
    names *what* was expected."""

    def parse(text):
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None

    return parse


def _number(low, high=math.inf, *, low_open=False):
    """text -> a finite float in [low, high) (or (low, high) with *low_open*)."""

    def convert(text):
        value = float(text)
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value >= high:
            raise ValueError(text)
        return value

    return convert


def _nonnegative_int(text):
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


_positive_int = _typed(lambda text: positive_int(int(text), "N"), "a positive integer")
_nonneg_int = _typed(_nonnegative_int, "an integer >= 0")
_positive_float = _typed(_number(0.0, low_open=True), "a positive number")
_nonneg_float = _typed(_number(0.0), "a number >= 0")
_momentum = _typed(_number(0.0, 1.0), "a number in [0, 1)")
_dropout = _typed(_number(0.0, 1.0), "a ratio in [0, 1)")


# --- shared option groups --------------------------------------------------------------


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


def _command(sub, name, summary, description, **kwargs):
    return sub.add_parser(name, formatter_class=_Formatter, help=summary, description=description,
                          **kwargs)


# --- the commands ----------------------------------------------------------------------


def build_parser():
    """The argparse parser of the ``numbann`` command."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="numbann", formatter_class=_Formatter,
        description="Dense neural networks made fast with Numba: train and check networks "
                    "from 「ゼロから作るDeep Learning」 (chapters 3-6) on MNIST or the 8x8 digits.",
        epilog="Run 'numbann COMMAND --help' for the options of a command.\n"
               "Exit status: 0 ok, 1 a problem while running (missing data, diverged "
               "training, ...), 2 bad arguments.")
    parser.add_argument("--version", action="version", version=f"numbann {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_add_train, _add_evaluate, _add_gradcheck, _add_info, _add_warmup):
        add(sub)
    return parser


def _add_train(sub):
    p = _command(
        sub, "train", "train a network and report test accuracy",
        "Train a fully connected network (Linear → activation → … → Linear, softmax "
        "cross-entropy loss) with mini-batches, print one table row per epoch (training loss "
        "and accuracy, test loss and accuracy, time) and the final test accuracy.\n\n"
        "The default, 784-100-10 ReLU with Adam (lr 0.001, batch 128) for 5 epochs, reaches "
        "about 97% test accuracy on MNIST in a few seconds per epoch.",
        epilog="examples:\n"
               "  numbann train --dataset digits --epochs 20\n"
               "  numbann train --hidden 256 128 --epochs 10 --save mlp.npz --plot mlp.png\n"
               "  numbann train --hidden 50 --activation sigmoid --optimizer sgd --lr 0.1 "
               "--batch-size 100 --epochs 17   # the textbook's TwoLayerNet recipe\n"
               "  numbann train --json > metrics.json")
    _data_options(p)
    _model_options(p.add_argument_group("model"))
    _optimization_options(p.add_argument_group("optimization"))
    out = p.add_argument_group("output")
    out.add_argument("--save", metavar="MODEL.npz", default=None,
                     help="save the trained model there (load it with numbann.load or "
                          "'numbann evaluate')")
    out.add_argument("--plot", metavar="FILE.png", default=None,
                     help="save a plot of the loss and accuracy curves there")
    _output_options(out)
    p.set_defaults(func=cmd_train)


def _model_options(m):
    """What network ``numbann train`` builds (see _recipes.make_model)."""
    m.add_argument("--hidden", type=_positive_int, nargs="*", default=[100], metavar="N",
                   help="hidden layer sizes (none for a linear softmax classifier)")
    m.add_argument("--activation", choices=ACTIVATIONS, default="relu",
                   help="activation after each hidden layer (weights start with He init for "
                        "relu, Xavier for sigmoid and tanh)")
    m.add_argument("--weight-decay", type=_nonneg_float, default=0.0, metavar="LAMBDA",
                   help="L2 penalty ½λΣ‖W‖² on the weights, added to the loss (the textbook's "
                        "weight_decay_lambda)")
    m.add_argument("--batchnorm", action="store_true",
                   help="batch normalization after each hidden Affine layer (the textbook's "
                        "MultiLayerNetExtend, use_batchnorm=True)")
    m.add_argument("--dropout", type=_dropout, default=0.0, metavar="P",
                   help="dropout with ratio P after each hidden activation (the textbook's "
                        "use_dropout=True, dropout_ration=P); default 0: none")


def _optimization_options(o):
    """How ``numbann train`` trains (see _recipes.make_optimizer)."""
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


def _add_evaluate(sub):
    p = _command(
        sub, "evaluate", "loss and accuracy of a saved model",
        "Load a model saved by 'numbann train --save' (or numbann.save) and print its loss "
        "and accuracy on the test set of the data set.")
    p.add_argument("model", metavar="MODEL.npz", help="the model file")
    _data_options(p, auto=True)
    p.add_argument("--batch-size", type=_positive_int, default=1000,
                   help="rows per forward pass")
    _output_options(p)
    p.set_defaults(func=cmd_evaluate)


def _add_gradcheck(sub):
    p = _command(
        sub, "gradcheck", "compare backprop with the numerical gradient",
        "Gradient check, as the textbook's gradient_check.py: build a TwoLayerNet (784-50-10 "
        "with weight_init_std 0.01; with --batchnorm the textbook's MultiLayerNetExtend with "
        "batch normalization) in float64, take the first few training images, and "
        "compare the backprop gradient of every parameter with the numerical (central "
        "difference) one. Prints per parameter the maximum and mean absolute difference (the "
        "textbook prints the mean) and the relative difference ‖backprop − numerical‖ / "
        "max(‖backprop‖, ‖numerical‖, 1e-3 of the largest such norm). Exits with status 1 if "
        "a relative difference exceeds "
        "--tol.")
    _data_options(p)
    p.add_argument("--samples", type=_positive_int, default=3,
                   help="number of training images (the textbook uses 3)")
    p.add_argument("--hidden", type=_positive_int, default=50, metavar="N",
                   help="hidden layer size")
    p.add_argument("--activation", choices=("relu", "sigmoid"), default="relu",
                   help="hidden activation (relu: chapter 5's TwoLayerNet, sigmoid: chapter 4's)")
    p.add_argument("--batchnorm", action="store_true",
                   help="check a network with batch normalization instead (the textbook's "
                        "batch_norm_gradient_check.py: MultiLayerNetExtend, training mode)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the initial weights")
    p.add_argument("--eps", type=_positive_float, default=None,
                   help="step h of the central differences; default 1e-4, and 1e-5 with "
                        "--batchnorm (batch norm over a few samples curves sharply, so the "
                        "O(h²) error of the central difference is larger)")
    p.add_argument("--tol", type=_positive_float, default=1e-6,
                   help="largest relative difference that passes")
    _output_options(p)
    p.set_defaults(func=cmd_gradcheck)


def _add_info(sub):
    p = _command(
        sub, "info", "versions, threading layer, threads, BLAS and CUDA status",
        "Print the versions of numbann and its dependencies, Numba's threading layer and "
        "thread count, the BLAS, JIT cache and CUDA status (as numbann.show_config()). "
        "Include this in bug reports.")
    p.add_argument("--json", action="store_true", help="print as one JSON object")
    p.set_defaults(func=cmd_info)


def _add_warmup(sub):
    p = _command(
        sub, "warmup", "compile the training path now (it is cached for later runs)",
        "Compile numbann's CPU kernels for training, evaluation and inference and store them "
        "in Numba's on-disk cache, so that the first real run starts at once. The compile "
        "takes 15-25 s on 2 cores the first time; with a warm cache this command finishes in "
        "about a second.")
    p.add_argument("--dtype", choices=("float32", "float64", "both"), default="float32",
                   help="the parameter dtype(s) to compile for")
    p.add_argument("--numerical-gradient", action="store_true",
                   help="also compile the compiled numerical gradient")
    p.set_defaults(func=cmd_warmup)
