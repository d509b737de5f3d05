"""Chapter 6.5: random search over the learning rate and weight decay (Figure 6-24).

The textbook's hyperparameter_optimization.py: the first 500 MNIST training
images, shuffled, 20 % of them (100) held out as validation data — never
the test set — and 100 trials of a MultiLayerNet 784-100×6-10 (ReLU, He)
trained for 50 epochs with SGD (batches of 100), each with
lr = 10^U(−6, −2) and weight decay λ = 10^U(−8, −4) drawn at random
(log-uniform). One trial is one ``nb.fit`` call (``sampling='replacement'``
as the textbook's Trainer draws batches) with the validation data evaluated
after each epoch. --quick: 20 trials of 20 epochs.

Prints the ten best trials as the book does ("Best-1(val acc:0.8) | lr:…,
weight decay:…") and the range of learning rates among the five best: the
book finds lr 0.001…0.01 and λ 1e-8…1e-6 work well; the learning rate
matters far more than λ here.

Writes ch6_hyperparameter_search.png: validation (solid) and training
(dashed) accuracy against epochs for the 20 best trials, best first. The
training accuracy is what ``fit`` records: the mean over each epoch's
batches (the book's Trainer re-evaluates the whole training set instead,
which would cost a third of the run here).

--sklearn: the same search the scikit-learn way. numbann.sklearn.MLPClassifier
(the same 784-100×6-10 ReLU network with the book's He initialisation, SGD
without momentum, batches of 100) in a RandomizedSearchCV that draws
learning_rate_init ~ loguniform(1e-6, 1e-2) and alpha ~ loguniform(1e-6, 1e-2)
from scipy.stats — scikit-learn's alpha is the book's λ times the batch
size (its penalty is α/2|B|·Σ‖W‖²), so that is λ ~ 10^U(−8, −4) — scored on
the same 100 validation images (cv is that one split), with n_jobs=2 worker
processes. Prints the same table (λ = alpha / 100) and the search's time;
the curves of ch6_hyperparameter_search_sklearn.png come from training each
of the 20 best settings (5 with --quick) again epoch by epoch (partial_fit,
scored after each epoch), so their last points are close to, not equal to,
the search's scores. (With scikit-learn's Glorot initialisation,
weight_init='glorot', this deep ReLU network learns far more slowly: in
20 epochs no trial leaves chance level.)
"""

import warnings

import numpy as np
from _common import Timer, parse_args, save

import numbann as nb
from numbann.models import MultiLayerNet


def train(x_train, t_train, x_val, t_val, lr, weight_decay, epochs, seed):
    """One trial: (validation accuracy per epoch, training accuracy per epoch)."""
    network = MultiLayerNet(input_size=784, hidden_size_list=[100] * 6, output_size=10,
                            weight_decay_lambda=weight_decay, rng=seed)
    optimizer = nb.optim.SGD(network.parameters(), lr=lr)
    history = nb.fit(network, network.loss_fn, optimizer, x_train, t_train, epochs=epochs,
                     batch_size=100, sampling="replacement", validation_data=(x_val, t_val),
                     seed=seed, verbose=0)
    return np.array(history.history["val_accuracy"]), np.array(history.history["accuracy"])


def search_sklearn(x_train, t_train, x_val, t_val, trials, epochs, seed, curves):
    """The search by RandomizedSearchCV: [(val accuracy, lr, λ, val curve, train curve)],
    best first, with curves for the *curves* best (None for the others)."""
    from scipy.stats import loguniform
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import RandomizedSearchCV

    from numbann.sklearn import MLPClassifier

    x, t = np.concatenate([x_train, x_val]), np.concatenate([t_train, t_val])
    split = [(np.arange(len(x_train)), np.arange(len(x_train), len(x)))]  # the book's
    batch = 100
    # one thread per trial: the parallelism is across trials (n_jobs), and these layers
    # are too small for threads to pay
    net = MLPClassifier(hidden_layer_sizes=[100] * 6, solver="sgd", momentum=0.0,
                        batch_size=batch, max_iter=epochs, n_iter_no_change=np.inf,
                        weight_init="he", random_state=seed, n_threads=1)
    search = RandomizedSearchCV(
        net, {"learning_rate_init": loguniform(1e-6, 1e-2), "alpha": loguniform(1e-6, 1e-2)},
        n_iter=trials, cv=split, n_jobs=2, refit=False, random_state=seed)
    with warnings.catch_warnings(), Timer() as timer:
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter epochs are meant
        search.fit(x, t)
    print(f"RandomizedSearchCV: {trials} trials of {epochs} epochs in {timer.seconds:.1f} s "
          "(n_jobs=2)")
    scores, params = search.cv_results_["mean_test_score"], search.cv_results_["params"]
    results = []
    for rank, i in enumerate(np.argsort(-scores, kind="stable")):
        val_acc = train_acc = None
        if rank < curves:  # the figure's curves: the same setting again, epoch by epoch
            net_i = clone(net).set_params(**params[i],
                                          random_state=np.random.RandomState(seed + rank))
            val_acc, train_acc = [], []
            for _ in range(epochs):
                net_i.partial_fit(x_train, t_train, classes=np.arange(10))
                val_acc.append(net_i.score(x_val, t_val))
                train_acc.append(net_i.score(x_train, t_train))
        results.append((scores[i], params[i]["learning_rate_init"], params[i]["alpha"] / batch,
                        val_acc, train_acc))
    return results


def main(argv=None):
    args = parse_args(__doc__, argv, extra=lambda p: p.add_argument(
        "--sklearn", action="store_true", help="search with scikit-learn's RandomizedSearchCV"))
    (x, t), _ = nb.datasets.load_mnist(normalize=True)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(500)  # the book's shuffle_dataset on the first 500 images
    x, t = x[:500][order], t[:500][order]
    validation_num = int(500 * 0.20)
    x_val, t_val = x[:validation_num], t[:validation_num]
    x_train, t_train = x[validation_num:], t[validation_num:]

    trials = 20 if args.quick else 100
    epochs = 20 if args.quick else 50
    if args.sklearn:
        results = search_sklearn(x_train, t_train, x_val, t_val, trials, epochs, args.seed,
                                 curves=5 if args.quick else 20)
    else:
        results = []
        with Timer() as timer:
            for trial in range(trials):
                weight_decay = 10 ** rng.uniform(-8, -4)
                lr = 10 ** rng.uniform(-6, -2)
                val_acc, train_acc = train(x_train, t_train, x_val, t_val, lr, weight_decay,
                                           epochs, args.seed + trial)
                results.append((val_acc[-1], lr, weight_decay, val_acc, train_acc))
        print(f"{trials} trials of {epochs} epochs in {timer.seconds:.1f} s")

    results.sort(key=lambda r: r[0], reverse=True)
    print("=========== Hyper-Parameter Optimization Result ===========")
    for i, (acc, lr, wd, _, _) in enumerate(results[:10]):
        print(f"Best-{i + 1}(val acc:{acc:.2f}) | lr:{lr:.6f}, weight decay:{wd:.3e}")
    best_lr = [r[1] for r in results[:5]]
    print(f"learning rates of the 5 best trials: {min(best_lr):.2e} … {max(best_lr):.2e}")

    import matplotlib.pyplot as plt

    shown = [r for r in results if r[3] is not None][:20]
    rows = int(np.ceil(len(shown) / 5))
    fig, axes = plt.subplots(rows, 5, figsize=(12, 2.2 * rows), sharex=True, sharey=True)
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        if i >= len(shown):
            ax.set_visible(False)
            continue
        acc, lr, wd, val_acc, train_acc = shown[i]
        ax.plot(val_acc)
        ax.plot(train_acc, "--")
        ax.set_ylim(0.0, 1.0)
        ax.set_title(f"Best-{i + 1}: lr {lr:.1e}, λ {wd:.0e}", fontsize=8)
    how = " (RandomizedSearchCV)" if args.sklearn else ""
    fig.suptitle(f"Figure 6-24{how}: validation (solid) and training (dashed) accuracy, "
                 "best first")
    fig.tight_layout()
    save(fig, args.out, "ch6_hyperparameter_search_sklearn.png" if args.sklearn
         else "ch6_hyperparameter_search.png")


if __name__ == "__main__":
    main()
