"""What the commands build, with the command line's choices and defaults: data, model, optimizer.

``docs/img/make_images.py`` uses these too, so that its pictures show what
``numbann train`` does.
"""

import numpy as np

from ._missing_data import explain_corrupt, explain_not_found
from ._output import CLIError

DATASETS = ("mnist", "fashion-mnist", "kmnist", "digits")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
#: learning rate used when --lr is not given
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "adagrad": 0.01, "rmsprop": 0.001, "adam": 0.001}
#: epochs used when --epochs is not given (digits: 11 steps per epoch at batch 128)
DEFAULT_EPOCHS = {"mnist": 5, "digits": 40}
#: the 75/25 train/test split of the digits uses this seed, whatever --seed says, so that
#: ``numbann evaluate`` sees the same test set as ``numbann train``
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_SIZE = 0.25


def load_data(name, data_dir=None, download=True, dtype=np.float32, *, command="train"):
    """(x_train, t_train, x_test, t_test) for a data set name of the command line.

    Images are flattened and scaled to [0, 1]; labels are int64. *data_dir* is
    the directory with the files or a root with them in ``data_dir/<name>/``
    (ignored for the digits). Raises :class:`CLIError` with a message for the
    user of *command* when the data cannot be read.
    """
    from ..datasets import CorruptDataError, DatasetNotFoundError, load_digits, load_mnist

    if name == "digits":
        from ..datasets import train_test_split

        x, t = load_digits(normalize=True, dtype=dtype)
        x_train, x_test, t_train, t_test = train_test_split(
            x, t, test_size=DIGITS_TEST_SIZE, seed=DIGITS_SPLIT_SEED)
        return x_train, t_train, x_test, t_test
    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(
            normalize=True, flatten=True, name=name, data_dir=data_dir, download=download,
            dtype=dtype)
    except DatasetNotFoundError as exc:
        raise CLIError(explain_not_found(exc, command, download)) from None
    except CorruptDataError as exc:
        raise CLIError(explain_corrupt(exc)) from None
    return x_train, t_train, x_test, t_test


def make_model(in_features, hidden, out_features, activation, weight_decay=0.0, seed=0,
               batchnorm=False, dropout=0.0):
    """The textbook's MultiLayerNet (He init for relu, Xavier for sigmoid/tanh), or its
    MultiLayerNetExtend with batch normalization and/or dropout of ratio *dropout*."""
    from ..models import MultiLayerNet, MultiLayerNetExtend

    kwargs = dict(activation=activation,
                  weight_init_std="relu" if activation == "relu" else "sigmoid",
                  weight_decay_lambda=weight_decay, rng=seed)
    if batchnorm or dropout:
        return MultiLayerNetExtend(in_features, list(hidden), out_features,
                                   use_batchnorm=batchnorm, use_dropout=dropout > 0,
                                   dropout_ration=dropout, **kwargs)
    return MultiLayerNet(in_features, list(hidden), out_features, **kwargs)


def make_optimizer(name, params, lr=None, momentum=None):
    """The optimizer *name* of the command line with its command-line defaults."""
    from .. import optim

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
