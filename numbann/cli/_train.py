"""``numbann train``: load the data, build the network, fit it, report, save."""

import os
import time
from pathlib import Path

from ._output import CLIError, UsageError, architecture, cell
from ._recipes import DEFAULT_EPOCHS, load_data, make_model, make_optimizer

#: the epoch table: its columns and how each is formatted
_HEADER = ["epoch", "loss", "accuracy", "test_loss", "test_acc", "time"]
_FORMATS = ["{:d}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.2f}s"]
_WIDTHS = [max(len(h), 6) for h in _HEADER]
_ACTIVATION_NAMES = {"relu": "ReLU", "sigmoid": "sigmoid", "tanh": "tanh"}


def cmd_train(args, out):
    """Train as *args* say; print the table and the test accuracy; returns the exit status."""
    import numbann as nb

    _check_arguments(args)
    t0 = time.perf_counter()
    x_train, t_train, x_test, t_test = load_data(args.dataset, args.data_dir,
                                                 not args.no_download)
    load_time = time.perf_counter() - t0
    n_classes = int(max(t_train.max(), t_test.max())) + 1
    model = make_model(x_train.shape[1], args.hidden, n_classes, args.activation,
                       args.weight_decay, args.seed, args.batchnorm, args.dropout)
    loss_fn = nb.CrossEntropyLoss()
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum)
    arch, act = architecture(model), _ACTIVATION_NAMES[args.activation]
    out.table(f"{args.dataset}: {len(x_train)} training, {len(x_test)} test samples "
              f"(loaded in {load_time:.2f}s)")
    out.table(f"model {arch} {act}, {optimizer!r}, batch {args.batch_size}, "
              f"{args.epochs} epochs, seed {args.seed}"
              + (f", weight decay {args.weight_decay:g}" if args.weight_decay else "")
              + (", batch norm" if args.batchnorm else "")
              + (f", dropout {args.dropout:g}" if args.dropout else ""))
    out.table("  ".join(h.rjust(w) for h, w in zip(_HEADER, _WIDTHS)))

    t0 = time.perf_counter()
    history = _fit(args, out, model, loss_fn, optimizer, (x_train, t_train), (x_test, t_test))
    train_time = time.perf_counter() - t0
    test_loss, test_acc = nb.evaluate(model, loss_fn, x_test, t_test)
    if out.verbose:
        jit = history.params.get("jit_time")
        out.table(f"engine: {history.params.get('engine')}, {history.params.get('steps')} "
                  f"steps per epoch, training took {train_time:.2f}s"
                  + (f" (of which {jit:.2f}s compiling or loading the engine)" if jit else ""))
    saved = _save_model(model, args.save) if args.save else None
    plotted = (_save_history_plot(history, args.plot, f"{args.dataset} {arch} {act}")
               if args.plot else None)

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
                  "activation": args.activation, "weight_decay": args.weight_decay,
                  "batchnorm": args.batchnorm, "dropout": args.dropout},
        "optimizer": {"name": args.optimizer, **optimizer.hyperparameters},
        "epochs": len(history.epoch), "batch_size": args.batch_size, "seed": args.seed,
        "device": args.device, "engine": history.params.get("engine"),
        "jit_time": history.params.get("jit_time"), "history": _history_json(history),
        "test_loss": test_loss, "test_accuracy": test_acc, "train_time": train_time,
        "saved": saved, "plot": plotted,
    })
    return 0


def _check_arguments(args):
    """Fail before loading any data: bad combinations (status 2), unwritable outputs and an
    unusable device (status 1). Fills in the default --epochs."""
    if args.momentum is not None and args.optimizer in ("adagrad", "adam"):
        raise UsageError(f"--momentum does not apply to --optimizer {args.optimizer}")
    for path, option in ((args.save, "--save"), (args.plot, "--plot")):
        if path is not None:
            _check_writable(path, option)
    if args.device == "cuda":
        from .._cuda import CudaUnavailableError, require_cuda

        try:
            require_cuda()
        except CudaUnavailableError as exc:
            raise CLIError(str(exc)) from None
    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS.get(args.dataset, DEFAULT_EPOCHS["mnist"])


def _check_writable(path, option):
    """Fail early (before training) if *path* cannot be written."""
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise CLIError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"{option} {path}: directory {parent} is not writable")
    if Path(path).is_dir():
        raise CLIError(f"{option} {path}: is a directory")


def _fit(args, out, model, loss_fn, optimizer, train, test):
    """Fit *model* on the device of *args*, one table row per epoch; returns the History."""
    import numbann as nb

    class EpochRow(nb.Callback):  # one table row per epoch, as it ends
        def on_epoch_end(self, trainer, epoch, logs):
            row = [epoch + 1, logs["loss"], logs["accuracy"], logs.get("val_loss"),
                   logs.get("val_accuracy"), trainer.history.history["epoch_time"][-1]]
            cells = [cell(f, v) for f, v in zip(_FORMATS, row)]
            out.table("  ".join(c.rjust(w) for c, w in zip(cells, _WIDTHS)))

    try:
        model.to(args.device)
        trainer = nb.Trainer(model, loss_fn, optimizer, batch_size=args.batch_size,
                             seed=args.seed, verbose=1 if out.verbose else 0,
                             callbacks=[EpochRow()])
        trainer.announce_compile = not out.quiet  # a cold first compile takes a while
        return trainer.fit(*train, epochs=args.epochs, validation_data=test)
    except nb.TrainingDiverged as exc:
        raise CLIError(str(exc)) from None


def _history_json(history):
    """The per-epoch values of the table; History's val_* are the test set's here."""
    h = history.history
    return {"epoch": [e + 1 for e in history.epoch], "loss": h["loss"],
            "accuracy": h["accuracy"], "test_loss": h["val_loss"],
            "test_accuracy": h["val_accuracy"], "epoch_time": h["epoch_time"]}


def _save_model(model, path):
    import numbann as nb

    try:
        nb.save(model, path)
    except OSError as exc:
        raise CLIError(f"could not save the model to {path}: {exc}") from None
    return str(path)


def _save_history_plot(history, path, title):
    from .. import plot

    try:
        fig = plot.plot_history(history, path=path, val_label="test", title=title)
    except OSError as exc:
        raise CLIError(f"could not save the plot to {path}: {exc}") from None
    import matplotlib.pyplot as plt

    plt.close(fig)
    return str(path)
