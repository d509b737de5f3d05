"""``numbann gradcheck``: backprop against the numerical gradient, as the textbook's
gradient_check.py."""

import time

import numpy as np

from ..models import textbook_names
from ._output import UsageError, format_table
from ._recipes import load_data


def cmd_gradcheck(args, out):
    """Check the gradients of the network of *args*; exit status 1 when one exceeds --tol."""
    import numbann as nb

    x_train, t_train, _, _ = load_data(args.dataset, args.data_dir, not args.no_download,
                                       dtype=np.float64, command="gradcheck")
    if args.samples > len(x_train):
        raise UsageError(f"--samples {args.samples}: the training set has only "
                         f"{len(x_train)} images")
    x, t = x_train[:args.samples], t_train[:args.samples]
    n_classes = int(t_train.max()) + 1
    net = _network(args, x.shape[1], n_classes)
    if args.eps is None:
        args.eps = 1e-5 if args.batchnorm else 1e-4
    t0 = time.perf_counter()
    report = nb.gradient_check(net, x, t, nb.CrossEntropyLoss(), h=args.eps)
    elapsed = time.perf_counter() - t0
    arch = f"{x.shape[1]}-{args.hidden}-{n_classes}"
    kind = type(net).__name__ + (" with batch norm" if args.batchnorm else "")
    out.table(f"gradient check: {kind} {arch} {args.activation}, float64, "
              f"{args.samples} {args.dataset} images, h={args.eps:g}")
    names = {sd_name: key for key, (sd_name, _) in textbook_names(net).items()}
    rows, results = [], {}
    for key, check in report.items():
        name = names.get(key, key)
        passed = bool(check.rel <= args.tol)
        rows.append([name, check.max_abs, check.rel, check.mean_abs, "ok" if passed else "FAIL"])
        results[name] = {"max_abs": check.max_abs, "rel": check.rel,
                         "mean_abs": check.mean_abs, "ok": passed}
    for line in format_table(["param", "max abs", "rel", "mean abs", "check"], rows,
                             ["{}", "{:.2e}", "{:.2e}", "{:.2e}", "{}"]):
        out.result(line)
    ok = all(r["ok"] for r in results.values())
    out.result(f"{_verdict(ok, args, net, x)} ({elapsed:.2f}s)")
    out.emit_json({"command": "gradcheck", "model": f"{type(net).__name__} {arch}",
                   "batchnorm": args.batchnorm,
                   "activation": args.activation, "dataset": args.dataset,
                   "samples": args.samples, "h": args.eps, "tol": args.tol, "ok": ok,
                   "parameters": results})
    return 0 if ok else 1


def _network(args, in_features, n_classes):
    """The textbook's TwoLayerNet of *args* (weight_init_std 0.01), or with --batchnorm its
    MultiLayerNetExtend with batch normalization (in training mode), in float64."""
    from ..models import MultiLayerNetExtend, TwoLayerNet

    if args.batchnorm:
        return MultiLayerNetExtend(in_features, [args.hidden], n_classes,
                                   activation=args.activation, use_batchnorm=True,
                                   rng=args.seed, dtype=np.float64)
    return TwoLayerNet(in_features, args.hidden, n_classes, weight_init_std=0.01,
                       activation=args.activation, rng=args.seed, dtype=np.float64)


def _verdict(ok, args, net, x):
    """The last line: a match, or a mismatch with a hint when ReLU's kink may be the cause."""
    if ok:
        return "backprop matches the numerical gradient"
    verdict = f"MISMATCH: a relative difference exceeds {args.tol:g}"
    kinks = (_relu_kinks(net, x, args.eps) if args.activation == "relu" and not args.batchnorm
             else 0)
    if kinks:
        verdict += (f". {kinks} hidden pre-activations lie within h of ReLU's kink at 0, "
                    "where the central difference is wrong; try --activation sigmoid, "
                    "another --seed or a smaller --eps")
    return verdict


def _relu_kinks(net, x, h):
    """How many first-layer pre-activations are close enough to 0 that a step of h in a
    weight or bias can cross ReLU's kink (|z| < h·(1 + Σ|x|))."""
    first = net.linears[0]
    z = x @ first.weight.data + first.bias.data
    reach = h * (1.0 + np.abs(x).sum(axis=1, keepdims=True))
    return int(np.sum(np.abs(z) < reach))
