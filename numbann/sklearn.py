"""scikit-learn estimators trained by numbann's compiled engine.

:class:`MLPClassifier` and :class:`MLPRegressor` take scikit-learn's
parameters with their meanings and set the same fitted attributes as
``sklearn.neural_network``'s estimators of those names, so they drop into
``GridSearchCV``, ``RandomizedSearchCV``, ``cross_val_score`` and
``Pipeline``, and run on joblib's process pool or its Dask and Ray backends.
Each epoch runs as one compiled call (:func:`numbann.fit`).

The network is hidden_layer_sizes dense layers with the hidden activation,
then a dense output layer: softmax + cross-entropy (several classes),
sigmoid + binary cross-entropy per output (two classes, multilabel) or
identity + ½ squared error (regression). The objective of a batch B is
scikit-learn's, L = loss(B) + (α / 2|B|)·Σ‖W‖² (weights, not biases),
followed with its SGD (momentum, Nesterov, the 'invscaling' and 'adaptive'
schedules) or Adam. Glorot-uniform initialisation draws the same numbers
from ``random_state`` as scikit-learn, so with ``shuffle=False`` and
``dtype='float64'`` the SGD trajectory is scikit-learn's to rounding.
Differences, all documented in docs/sklearn.md: numbann's Adam adds ε after
the bias correction (as PyTorch), the L2 factor of an epoch's last, shorter
batch is α / batch_size, batches are drawn from numbann's generator, and
there is no 'lbfgs' solver, no sample_weight and no sparse input.

Both estimators take scikit-learn's parameters (of
``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``) with their
defaults and meanings, less ``solver='lbfgs'``, ``max_fun`` and the
regressor's ``loss``; bad values raise scikit-learn's
``InvalidParameterError`` (a ValueError) at ``fit``. Three more:

- ``weight_init``: 'glorot' (default, scikit-learn's: weights and biases
  ~ U(±√(f / (fan_in + fan_out))), f = 2 for 'logistic', else 6, drawn from
  ``random_state`` in scikit-learn's order) or 'he' (the textbook's for
  ReLU: weights ~ N(0, 2 / fan_in), biases 0).
- ``dtype``: 'float32' (default; numbann's fast path) or 'float64': the
  dtype of training and of ``coefs_``, whatever the dtype of X.
- ``n_threads``: threads for numbann's kernels and BLAS in fit and predict;
  None (default): what the process was given (see :func:`thread_budget`).

The fitted attributes are scikit-learn's: ``coefs_`` (list of (fan_in,
fan_out) arrays), ``intercepts_``, ``classes_`` (classifier), ``loss_``,
``loss_curve_``, ``best_loss_``, ``validation_scores_``,
``best_validation_score_``, ``n_iter_``, ``t_``, ``n_layers_``,
``n_outputs_``, ``out_activation_``, ``n_features_in_``. ``coefs_`` and
``intercepts_`` are views of the network's parameters: changing them in
place changes the model. numbann adds ``n_threads_`` (the threads the last
fit used) and ``jit_time_`` (seconds it spent compiling, or loading from
Numba's cache, the training engine; not training).

Threads: ``fit``, ``partial_fit`` and the predictions limit Numba's threads
(``numba.set_num_threads``) and every BLAS (threadpoolctl) to
``n_threads``, by default to the fewer of the two the process already has
— one per worker in joblib's and Dask's workers, which set those limits —
and give the caller's settings back afterwards.
"""

import math
import warnings
from contextlib import contextmanager

import numpy as np

try:
    from scipy.special import expit, softmax
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils._param_validation import Interval, Options, StrOptions
    from sklearn.utils.multiclass import (
        _check_partial_fit_first_call,
        check_classification_targets,
        type_of_target,
        unique_labels,
    )
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("numbann.sklearn needs scikit-learn>=1.6: pip install 'numbann[sklearn]'"
                      ) from exc

from numbers import Integral, Real

import numbann as nb

__all__ = ["MLPClassifier", "MLPRegressor", "thread_budget", "EXPECTED_FAILED_CHECKS"]

_ACTIVATIONS = {"identity": None, "logistic": nb.Sigmoid, "tanh": nb.Tanh, "relu": nb.ReLU}

#: ``sklearn.utils.estimator_checks`` checks these estimators do not pass, and why
#: (give it to ``check_estimator(..., expected_failed_checks=...)``).
EXPECTED_FAILED_CHECKS = {}


# --- threads -----------------------------------------------------------------------------

_controller = None


def _blas_controller():
    """A threadpoolctl controller that sees the BLAS numbann's kernels call (SciPy's)."""
    global _controller
    if _controller is None:
        import scipy.linalg.cython_blas  # noqa: F401 - the BLAS behind Numba's np.dot
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextmanager
def thread_budget(n_threads=None):
    """Limit Numba's threads and every BLAS to *n_threads* inside the block; yields it.

    *n_threads* None: the fewer of Numba's current thread count and the
    largest BLAS thread count — what this process was given (joblib's loky
    workers get NUMBA_NUM_THREADS, OMP/OPENBLAS/MKL_NUM_THREADS = cores //
    n_jobs; Dask's workers OMP/OPENBLAS/MKL_NUM_THREADS = 1). Numba cannot go
    above the NUMBA_NUM_THREADS it started with. Both settings are restored
    on exit (Numba's is per thread, threadpoolctl's per process).
    """
    import numba

    ctl = _blas_controller()
    blas = ctl.select(user_api="blas")
    before = numba.get_num_threads()
    if n_threads is None:
        n_threads = min([before, *(lib.num_threads for lib in blas.lib_controllers)])
    numba.set_num_threads(max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        with blas.limit(limits=int(n_threads)):
            yield int(n_threads)
    finally:
        numba.set_num_threads(before)


# --- the estimators --------------------------------------------------------------------------


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, training, pickling."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "weight_init": [StrOptions({"glorot", "he"})],
        "dtype": [StrOptions({"float32", "float64"})],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, weight_init="glorot",
                 dtype="float32", n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.weight_init = weight_init
        self.dtype = dtype
        self.n_threads = n_threads

    # --- subclass hooks -----------------------------------------------------------------
    # _targets(y, incremental, reset) -> float targets (N, n_outputs) of self.dtype
    # _loss() -> the numbann loss; _scale() -> k = (numbann's loss) / (scikit-learn's)
    # _from_outputs(out) -> predictions from the network's outputs (N, n_outputs)
    # _score_outputs(out, y) -> the validation score of early stopping

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coefs_")

    # --- input --------------------------------------------------------------------------

    def _validate_X(self, X, reset):
        X = validate_data(self, X, reset=reset, dtype=np.dtype(self.dtype), order="C")
        return X if X.flags.writeable else X.copy()  # a read-only array compiles anew

    def _validate_Xy(self, X, y, reset, **kwargs):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.dtype(self.dtype), order="C",
                             multi_output=True, **kwargs)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return (X if X.flags.writeable else X.copy()), y

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes}")
        return [int(s) for s in sizes]

    # --- the network --------------------------------------------------------------------

    def _new_network(self, coefs, intercepts):
        """A Sequential of this activation with these weights (copied in)."""
        dtype, act = np.dtype(self.dtype), _ACTIVATIONS[self.activation]
        layers = []
        for i, (w, b) in enumerate(zip(coefs, intercepts)):
            linear = nb.Linear(*np.shape(w), init=0.0, rng=0, dtype=dtype)
            linear.weight.data, linear.bias.data = w, b
            layers.append(linear)
            if act is not None and i < len(coefs) - 1:
                layers.append(act())
        return nb.Sequential(*layers)

    def _is_bound(self, model):
        """Whether coefs_/intercepts_ are still the views of *model*'s parameters."""
        return model is not None and len(model.linears) == len(self.coefs_) and all(
            layer.weight.data is w and layer.bias.data is b
            for layer, w, b in zip(model.linears, self.coefs_, self.intercepts_))

    def _network(self):
        """The fitted Sequential, rebuilt from coefs_/intercepts_ if those were replaced;
        coefs_/intercepts_ become views of its parameters."""
        model = getattr(self, "_model", None)
        if not self._is_bound(model):
            model = self._model = self._new_network(self.coefs_, self.intercepts_)
            self.coefs_ = [layer.weight.data for layer in model.linears]
            self.intercepts_ = [layer.bias.data for layer in model.linears]
        return model

    def _outputs(self, X):
        """The network's outputs (logits for a classifier) for X (N, n_features_in_);
        changes nothing in the estimator."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        model = getattr(self, "_model", None)
        if not self._is_bound(model):  # coefs_ were replaced: a stand-in network
            model = self._new_network(self.coefs_, self.intercepts_)
        with thread_budget(self.n_threads):
            return model.predict(X, batch_size=_PREDICT_ROWS)

    def _initialize(self, layer_units, rs):
        """Fresh weights (Glorot: drawn as scikit-learn draws them) and bookkeeping."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        coefs, intercepts = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            if self.weight_init == "he":
                coefs.append(rs.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in))
                intercepts.append(np.zeros(fan_out))
                continue
            bound = np.sqrt(factor / (fan_in + fan_out))
            coefs.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
            intercepts.append(rs.uniform(-bound, bound, fan_out))
        self.coefs_, self.intercepts_, self._model = coefs, intercepts, None
        self._optimizer = None
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = layer_units[-1]
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _make_optimizer(self, model):
        """numbann's optimizer for scikit-learn's settings. numbann's loss is k times
        scikit-learn's: SGD gets lr / k; Adam, invariant to the gradient's scale but
        for ε, gets ε·k."""
        params, k = model.parameters(), self._scale()
        if self.solver == "adam":
            return nb.optim.Adam(params, lr=self.learning_rate_init,
                                 betas=(self.beta_1, self.beta_2), eps=self.epsilon * k)
        return nb.optim.SGD(params, lr=self.learning_rate_init / k, momentum=self.momentum,
                            nesterov=bool(self.nesterovs_momentum and self.momentum > 0))

    # --- training -----------------------------------------------------------------------

    def _fit(self, X, y, incremental):
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X, T = self._targets(X, y, incremental, reset=first_pass)
        layer_units = [X.shape[1], *hidden, T.shape[1]]
        rs = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, rs)
        else:
            fitted = [self.coefs_[0].shape[0]] + [w.shape[1] for w in self.coefs_]
            if fitted != layer_units:
                raise ValueError(f"the fitted network has layer sizes {fitted}, but this data "
                                 f"and hidden_layer_sizes={self.hidden_layer_sizes} give "
                                 f"{layer_units}; fit again without warm_start")
        model = self._network()
        loss_fn, k = self._loss(), self._scale()
        if self.early_stopping:
            stratify = T if (isinstance(self, ClassifierMixin) and T.shape[1] == 1) else None
            X, X_val, T, T_val = train_test_split(X, T, random_state=rs, stratify=stratify,
                                                  test_size=self.validation_fraction)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            validation = (X_val, T_val)
        else:
            validation = None
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=3)
            batch_size = int(np.clip(self.batch_size, 1, n))
        opt = self._optimizer_for(model, incremental)
        model.weight_decay_lambda = k * self.alpha / batch_size
        seed = int(rs.randint(np.iinfo(np.int32).max)) if self.shuffle else None
        epochs = _EpochEnd(self, n, batch_size, k, validation)
        self.n_iter_ = 0
        try:
            with thread_budget(self.n_threads) as self.n_threads_:
                history = nb.fit(model, loss_fn, opt, X, T, epochs=1 if incremental else
                                 self.max_iter, batch_size=batch_size, shuffle=self.shuffle,
                                 seed=seed, verbose=0, callbacks=[epochs])
        except nb.TrainingDiverged as exc:
            raise ValueError(f"{type(self).__name__}: {exc}; the input data may contain large "
                             "values and need to be preprocessed") from exc
        self.jit_time_ = history.params["jit_time"]
        if not incremental and not epochs.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)
        if self.early_stopping:
            model.flat_parameters[...] = epochs.best_parameters
        return self

    def _optimizer_for(self, model, incremental):
        """A new optimizer, or (partial_fit) the last one, bound to *model*."""
        opt = getattr(self, "_optimizer", None)
        if not incremental or opt is None:
            opt = self._make_optimizer(model)
            self._learning_rate = float(self.learning_rate_init)
        elif opt.params[0] is not model.parameters()[0]:  # the network was rebuilt
            state = opt.state_dict()
            opt = self._make_optimizer(model)
            opt.load_state_dict(state)
        self._optimizer = opt
        return opt

    def _end_of_epoch(self, loss, n, validation):
        """scikit-learn's bookkeeping after an epoch of *n* samples with this *loss*;
        returns (whether the validation score is the best so far, whether to stop)."""
        self.n_iter_ += 1
        self.loss_ = loss
        self.t_ += n
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        if validation is not None:
            score = self._score_outputs(self._model.predict(validation[0],
                                                            batch_size=_PREDICT_ROWS),
                                        validation[1])
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            improved = score > self.best_validation_score_
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if score < self.best_validation_score_ + self.tol else 0)
            if improved:
                self.best_validation_score_ = score
        else:
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if loss > self.best_loss_ - self.tol else 0)
            self.best_loss_ = min(self.best_loss_, loss)
            improved = False
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._set_learning_rate(self.learning_rate_init / (self.t_ + 1) ** self.power_t)
        stop = False
        if self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if validation is not None else "Training loss"
            msg = (f"{what} did not improve more than tol={self.tol:f} for "
                   f"{self.n_iter_no_change} consecutive epochs.")
            if self.solver == "sgd" and self.learning_rate == "adaptive" \
                    and self._learning_rate > 1e-6:
                self._set_learning_rate(self._learning_rate / 5.0)
                self._no_improvement_count = 0
                msg += f" Setting learning rate to {self._learning_rate:f}"
            else:
                stop = True
                msg += (" Learning rate too small. Stopping." if self.solver == "sgd"
                        and self.learning_rate == "adaptive" else " Stopping.")
            if self.verbose:
                print(msg)
        return improved, stop

    def _set_learning_rate(self, lr):
        """New SGD learning rate (scikit-learn's scale). scikit-learn's velocity keeps the
        rates it was built with; numbann's momentum buffer is multiplied by the rate at
        each step, so it is rescaled by old/new to take the same steps."""
        opt, k = self._optimizer, self._scale()
        buf = opt.state.get("momentum_buffer")
        if buf is not None and lr > 0:
            buf *= self._learning_rate / lr
        self._learning_rate = float(lr)
        opt.lr = self._learning_rate / k

    # --- pickling -----------------------------------------------------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())  # (object's is the instance's own __dict__)
        state.pop("_model", None)
        opt = state.pop("_optimizer", None)
        if opt is not None:
            state["_optimizer_state"] = opt.state_dict()
        return state

    def __setstate__(self, state):
        opt_state = state.pop("_optimizer_state", None)
        super().__setstate__(state)
        self._model = None
        self._optimizer = None
        if hasattr(self, "coefs_"):
            model = self._network()
            if opt_state is not None:
                self._optimizer = self._make_optimizer(model)
                self._optimizer.load_state_dict(opt_state)


#: rows per compiled forward call in predict (bounds the memory of the activations)
_PREDICT_ROWS = 16384


class _EpochEnd(nb.Callback):
    """After each epoch of :func:`numbann.fit`: scikit-learn's loss (the batches'
    losses weighted by their sizes, divided by k), stopping rules and best weights."""

    def __init__(self, est, n, batch_size, k, validation):
        self.est, self.k, self.validation = est, k, validation
        n_batches = math.ceil(n / batch_size)
        self.sizes = np.full(n_batches, batch_size, np.float64)
        self.sizes[-1] = n - batch_size * (n_batches - 1)
        self.best_parameters = None
        self.stopped = False

    def on_train_begin(self, trainer):
        if self.validation is not None:
            self.best_parameters = np.array(trainer.model.flat_parameters)

    def on_epoch_end(self, trainer, epoch, logs):
        losses = np.asarray(trainer.history.train_loss_list[-self.sizes.size:])
        loss = float(self.sizes @ losses) / (self.sizes.sum() * self.k)
        improved, stop = self.est._end_of_epoch(loss, int(self.sizes.sum()), self.validation)
        if improved:
            self.best_parameters = np.array(trainer.model.flat_parameters)
        if stop:
            self.stopped = trainer.stop_training = True


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: log-loss trained by SGD or Adam.

    Several classes: softmax outputs, L = −(1/|B|) Σ log p_{i,y_i}; two classes
    (one output) and multilabel targets (one output per label): sigmoid outputs,
    L = −(1/|B|) Σ_i Σ_j [t log p + (1 − t) log(1 − p)]; plus (α / 2|B|)·Σ‖W‖².
    Parameters and fitted attributes: see :mod:`numbann.sklearn`.
    """

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and labels y (n_samples,) or a label
        indicator matrix (n_samples, n_labels); returns self."""
        self._validate_params()
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y); *classes* (every label of the whole data) is required
        at the first call. Returns self."""
        self._validate_params()
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self._check_classes()
        return self._fit(X, y, incremental=True)

    def _check_classes(self):
        if len(self._label_binarizer.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes, but "
                             f"the data contains only one class: "
                             f"{self._label_binarizer.classes_[0]!r}")

    def _targets(self, X, y, incremental, reset):
        X, y = self._validate_Xy(X, y, reset)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self._check_classes()
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and set(classes) != set(self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes "
                                 f"as in the previous call to fit. Previously got "
                                 f"{self.classes_}, `y` has {classes}")
            if len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        T = self._label_binarizer.transform(y).astype(self.dtype)
        self.out_activation_ = ("softmax" if self._label_binarizer.y_type_ == "multiclass"
                                else "logistic")
        return X, np.ascontiguousarray(T)

    def _loss(self):
        return nb.CrossEntropyLoss() if self.out_activation_ == "softmax" else \
            nb.BCEWithLogitsLoss()

    def _scale(self):
        """numbann's BCE is a mean over the outputs too, scikit-learn's a sum: k = 1/C."""
        return 1.0 if self.out_activation_ == "softmax" else 1.0 / self.n_outputs_

    def _probabilities(self, out):
        return softmax(out, axis=1) if self.out_activation_ == "softmax" else expit(out)

    def _from_outputs(self, out):
        return self._label_binarizer.inverse_transform(self._probabilities(out))

    def _score_outputs(self, out, t):
        if not np.isfinite(out).all():
            return np.nan
        return accuracy_score(self._label_binarizer.inverse_transform(t),
                              self._from_outputs(out))

    def predict(self, X):
        """Class labels for X (n_samples, n_features): (n_samples,), or an indicator
        matrix (n_samples, n_labels) for multilabel targets."""
        return self._from_outputs(self._outputs(X))

    def predict_proba(self, X):
        """Probabilities (n_samples, n_classes), columns in the order of ``classes_``:
        softmax of the outputs, [1 − p, p] for two classes, per-label p for multilabel."""
        p = self._probabilities(self._outputs(X))
        if self._label_binarizer.y_type_ == "binary":
            p = np.hstack([1 - p, p])
        return p

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        p = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(p, out=p)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: half squared error trained by SGD or Adam.

    Identity outputs, L = (1/2|B|) Σ_i Σ_j (y_ij − t_ij)² + (α / 2|B|)·Σ‖W‖²
    (the objective whose gradient scikit-learn follows; its ``loss_curve_``
    divides the error part by the number of outputs, numbann's does not). No
    ``loss`` parameter: scikit-learn's 'poisson' is not available. Parameters
    and fitted attributes: see :mod:`numbann.sklearn`.
    """

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and targets y (n_samples,) or
        (n_samples, n_outputs); returns self."""
        self._validate_params()
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over (X, y); returns self."""
        self._validate_params()
        return self._fit(X, y, incremental=True)

    def _targets(self, X, y, incremental, reset):
        X, y = self._validate_Xy(X, y, reset, y_numeric=True)
        self.out_activation_ = "identity"
        return X, np.ascontiguousarray(y.reshape(len(y), -1), dtype=self.dtype)

    def _loss(self):
        return nb.MSELoss()

    def _scale(self):
        """numbann's MSE is the mean of (y − t)² over all N·C elements: k = 2/C times
        scikit-learn's Σ (y − t)² / 2N."""
        return 2.0 / self.n_outputs_

    def _score_outputs(self, out, t):
        if not np.isfinite(out).all():
            return np.nan
        return r2_score(t, out)

    def predict(self, X):
        """Predictions for X (n_samples, n_features): (n_samples,) for one output,
        else (n_samples, n_outputs)."""
        out = self._outputs(X)
        return out.ravel() if out.shape[1] == 1 else out
