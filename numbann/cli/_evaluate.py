"""``numbann evaluate``: the loss and accuracy of a saved model on a test set."""

import time

from ._output import CLIError, architecture
from ._recipes import load_data

#: the data set that a model's input width means, when --dataset is not given
_DATASET_OF_WIDTH = {784: "mnist", 64: "digits"}


def cmd_evaluate(args, out):
    """Evaluate the model file of *args* on its test set; returns the exit status."""
    import numbann as nb

    model = _load_model(args.model)
    name = _dataset_for(model, args.dataset)
    _, _, x_test, t_test = load_data(name, args.data_dir, not args.no_download,
                                     dtype=model.dtype, command="evaluate")
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
    arch = architecture(model)
    out.table(f"model {args.model}: {type(model).__name__} {arch}, {model.dtype}")
    out.result(f"{name} test set, {len(x_test)} samples: loss {loss:.4f}, accuracy {acc:.4f}")
    if out.verbose:
        out.table(f"evaluated in {elapsed:.3f}s")
    out.emit_json({"command": "evaluate", "model": str(args.model), "dataset": name,
                   "architecture": arch, "samples": len(x_test), "loss": loss,
                   "accuracy": acc})
    return 0


def _load_model(path):
    import numbann as nb

    try:
        return nb.load(path)
    except FileNotFoundError:
        raise CLIError(f"no model file at {path}") from None
    except (ValueError, OSError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None


def _dataset_for(model, name):
    """*name*, or when it is None the data set the model's input width means."""
    if name is None:
        name = _DATASET_OF_WIDTH.get(model.in_features)
        if name is None:
            raise CLIError(f"the model takes {model.in_features} inputs, which matches no data "
                           "set (mnist has 784, digits 64)")
    return name
