"""numbann.sklearn: scikit-learn's own estimator checks, agreement with scikit-learn's
MLPClassifier/MLPRegressor step for step, pickling and Pipelines, errors, and threads
under joblib.

The peer is the reference: with the same Glorot draws, ``shuffle=False`` and float64,
scikit-learn's SGD and numbann's take the same steps, so coefficients agree to rounding.
"""

import copy
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is in the sklearn extra")

import numba  # noqa: E402
from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

import numbann  # noqa: E402
from numbann.datasets import load_digits  # noqa: E402
from numbann.sklearn import (  # noqa: E402
    EXPECTED_FAILED_CHECKS,
    MLPClassifier,
    MLPRegressor,
    thread_budget,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([MLPClassifier(), MLPRegressor()],
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# --- data ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    """1700 digits (a multiple of the batch sizes below: no short last batch), float64."""
    x, t = load_digits(normalize=True, dtype=np.float64)
    return x[:1700], t[:1700]


def regression_data(n_outputs, n=400):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 8))
    w = rng.standard_normal((8, n_outputs))
    y = np.tanh(x @ w) + 0.1 * rng.standard_normal((n, n_outputs))
    return x, (y[:, 0] if n_outputs == 1 else y)


def both(cls, peer, x, y, **params):
    """(numbann's, scikit-learn's) estimator fitted with the same parameters, float64."""
    ours = cls(dtype="float64", **params).fit(x, y)
    theirs = peer(**params).fit(x, y)
    return ours, theirs


def assert_same_network(ours, theirs, rtol=1e-9, atol=1e-11):
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


SGD = dict(solver="sgd", shuffle=False, random_state=1, batch_size=100, max_iter=6,
           learning_rate_init=0.05, alpha=1e-3)


# --- the same steps as scikit-learn -------------------------------------------------------


@pytest.mark.parametrize("extra", [
    dict(momentum=0.0),
    dict(momentum=0.9, nesterovs_momentum=False),
    dict(momentum=0.9, nesterovs_momentum=True, activation="tanh"),
    dict(momentum=0.8, activation="logistic", hidden_layer_sizes=(20, 12)),
    dict(momentum=0.9, learning_rate="invscaling", power_t=0.25, learning_rate_init=0.5),
    # tol=10: no epoch counts as an improvement, so the rate drops 5x every other epoch
    dict(momentum=0.9, learning_rate="adaptive", tol=10.0, n_iter_no_change=1),
    dict(momentum=0.0, activation="identity", hidden_layer_sizes=()),
], ids=["plain", "momentum", "nesterov-tanh", "logistic-2-layers", "invscaling", "adaptive",
        "linear"])
def test_sgd_takes_scikit_learns_steps(digits, extra):
    ours, theirs = both(MLPClassifier, neural_network.MLPClassifier, *digits, **{**SGD, **extra})
    assert_same_network(ours, theirs)
    assert ours.out_activation_ == theirs.out_activation_ == "softmax"
    np.testing.assert_allclose(ours.predict_proba(digits[0]), theirs.predict_proba(digits[0]),
                               rtol=1e-9, atol=1e-12)


def test_binary_and_multilabel_classifiers_take_scikit_learns_steps(digits):
    x, t = digits
    binary = np.where(t % 2 == 0, "even", "odd")
    multilabel = np.stack([t % 2 == 0, t > 4, t % 3 == 0], axis=1).astype(int)
    for y in (binary, multilabel):
        ours, theirs = both(MLPClassifier, neural_network.MLPClassifier, x, y,
                            **{**SGD, "momentum": 0.9})
        assert_same_network(ours, theirs)
        assert ours.out_activation_ == theirs.out_activation_ == "logistic"
        np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))
        np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), rtol=1e-9)
    assert list(ours.classes_) == [0, 1, 2] and ours.predict(x).shape == (1700, 3)


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_regressor_takes_scikit_learns_steps(n_outputs):
    x, y = regression_data(n_outputs)
    ours, theirs = both(MLPRegressor, neural_network.MLPRegressor, x, y,
                        **{**SGD, "momentum": 0.9, "learning_rate_init": 0.01})
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    # scikit-learn's loss_curve_ averages the squared error over the outputs, numbann's sums
    # it (the objective whose gradient both follow): equal for one output
    if n_outputs == 1:
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x), rtol=1e-9, atol=1e-11)
    assert ours.predict(x).shape == y.shape
    assert ours.score(x, y) == pytest.approx(theirs.score(x, y), rel=1e-9)


def test_early_stopping_matches_scikit_learn(digits):
    params = {**SGD, "batch_size": 170, "early_stopping": True, "validation_fraction": 0.1,
              "n_iter_no_change": 2, "max_iter": 30, "learning_rate_init": 0.3,
              "momentum": 0.9}
    ours, theirs = both(MLPClassifier, neural_network.MLPClassifier, *digits, **params)
    assert ours.n_iter_ < 30  # it stopped early
    assert_same_network(ours, theirs)  # the best epoch's weights are restored, as there
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert ours.best_loss_ is None and theirs.best_loss_ is None


def test_stopping_on_the_training_loss_matches_scikit_learn(digits):
    params = {**SGD, "tol": 0.05, "n_iter_no_change": 2, "max_iter": 50}
    ours, theirs = both(MLPClassifier, neural_network.MLPClassifier, *digits, **params)
    assert ours.n_iter_ < 50
    assert_same_network(ours, theirs)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)


def test_adam_follows_scikit_learns_adam_up_to_where_epsilon_goes(digits):
    """numbann adds ε to √v after the bias correction (as PyTorch), scikit-learn before;
    with α = 0 no gradient is small enough for that to matter much."""
    params = dict(solver="adam", shuffle=False, random_state=1, batch_size=100, max_iter=5,
                  alpha=0.0)
    ours, theirs = both(MLPClassifier, neural_network.MLPClassifier, *digits, **params)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-3)
    np.testing.assert_allclose(ours.predict_proba(digits[0]), theirs.predict_proba(digits[0]),
                               atol=5e-3)


def test_partial_fit_and_warm_start_continue_as_scikit_learn(digits):
    x, t = digits
    params = {**SGD, "momentum": 0.9, "batch_size": 85}
    ours, theirs = MLPClassifier(dtype="float64", **params), neural_network.MLPClassifier(
        **params)
    classes = np.arange(10)
    for lo in range(0, 1700, 425):  # four chunks, one epoch each, momentum carried over
        ours.partial_fit(x[lo:lo + 425], t[lo:lo + 425], classes=classes)
        theirs.partial_fit(x[lo:lo + 425], t[lo:lo + 425], classes=classes)
    assert_same_network(ours, theirs)
    warm = {**params, "warm_start": True, "max_iter": 2}
    ours.set_params(**warm).fit(x, t)
    theirs.set_params(**warm).fit(x, t)
    assert_same_network(ours, theirs)
    assert len(ours.loss_curve_) == 6


def test_he_initialisation_is_the_textbooks(digits):
    x, t = digits
    est = MLPClassifier(hidden_layer_sizes=(400,), weight_init="he", solver="sgd",
                        learning_rate_init=1e-12, max_iter=1, dtype="float64",
                        random_state=0).fit(x, t)  # a step too small to move the weights
    for w, b in zip(est.coefs_, est.intercepts_):
        assert np.std(w) == pytest.approx(np.sqrt(2 / w.shape[0]), rel=0.05)
        assert abs(np.mean(w)) < 0.1 * np.std(w)
        np.testing.assert_allclose(b, 0.0, atol=1e-9)


def test_float32_training_follows_float64(digits):
    x, t = digits
    params = {**SGD, "momentum": 0.9}
    single = MLPClassifier(**params).fit(x, t)
    double = MLPClassifier(dtype="float64", **params).fit(x, t)
    assert single.coefs_[0].dtype == np.float32 and double.coefs_[0].dtype == np.float64
    np.testing.assert_allclose(single.loss_curve_, double.loss_curve_, rtol=1e-3)
    assert (single.predict(x) == double.predict(x)).mean() > 0.99


@pytest.mark.slow
def test_mnist_accuracy_is_scikit_learns(mnist_dir):
    """The benchmark's setting (benchmarks/sklearn_bench.py): 784-100-10, Adam, batch 200,
    5 epochs on the 60,000 training images; both near 0.97 on the test images."""
    (x, t), (x_test, t_test) = numbann.datasets.load_mnist(data_dir=mnist_dir)
    params = dict(hidden_layer_sizes=(100,), batch_size=200, max_iter=5, random_state=0)
    ours = MLPClassifier(**params).fit(x, t).score(x_test, t_test)
    theirs = neural_network.MLPClassifier(**params).fit(x, t).score(x_test, t_test)
    assert ours > 0.96
    assert abs(ours - theirs) < 0.01  # different batch orders: a spread of a few 0.1 points


# --- predictions against a plain NumPy forward pass -----------------------------------------


def numpy_forward(est, x):
    act = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "identity": lambda z: z,
           "logistic": lambda z: 1 / (1 + np.exp(-z))}[est.activation]
    h = x
    for i, (w, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        h = h @ w + b
        if i < len(est.coefs_) - 1:
            h = act(h)
    return h


def test_predict_proba_is_the_softmax_of_the_network(digits):
    x, t = digits
    est = MLPClassifier(hidden_layer_sizes=(30,), max_iter=3, random_state=0,
                        dtype="float64").fit(x, t)
    z = numpy_forward(est, x)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(est.predict_proba(x), p, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(est.predict_log_proba(x), np.log(p), rtol=1e-8)
    np.testing.assert_array_equal(est.predict(x), est.classes_[z.argmax(axis=1)])
    assert est.score(x, t) == pytest.approx(np.mean(est.predict(x) == t))


def test_string_labels_and_their_order(digits):
    x, t = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    est = MLPClassifier(max_iter=20, random_state=0).fit(x, names[t])
    assert list(est.classes_) == sorted(names)
    assert est.score(x, names[t]) > 0.9
    proba = est.predict_proba(x)
    np.testing.assert_array_equal(est.predict(x), est.classes_[proba.argmax(axis=1)])


def test_coefs_are_the_model_edited_in_place_or_replaced(digits):
    x, t = digits
    est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=2, random_state=0,
                        dtype="float64").fit(x, t)
    est.intercepts_[-1][:] = 0.0
    est.intercepts_[-1][3] = 1e6  # in place: every row now says 3
    assert (est.predict(x) == 3).all()
    before = dict(vars(est))
    est.coefs_ = [w.copy() for w in est.coefs_]  # replaced: predict uses the new arrays
    est.coefs_[-1][:] = 0.0
    est.intercepts_ = [b.copy() for b in est.intercepts_]
    est.intercepts_[-1][:] = np.arange(10.0)
    assert (est.predict(x) == 9).all()
    assert {k for k, v in vars(est).items() if before.get(k) is not v} == {"coefs_",
                                                                            "intercepts_"}


# --- clone, pickle, Pipeline ----------------------------------------------------------------


def test_pickle_and_deepcopy_keep_predictions_and_optimizer_state(digits):
    x, t = digits
    est = MLPClassifier(hidden_layer_sizes=(24,), max_iter=2, random_state=0).fit(x, t)
    for twin in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est)):
        np.testing.assert_array_equal(twin.predict_proba(x), est.predict_proba(x))
        assert twin.coefs_[0] is not est.coefs_[0]
    assert "_optimizer" in vars(est)  # pickling took nothing away from the original
    again = pickle.loads(pickle.dumps(est))
    est.partial_fit(x, t)  # Adam's moments and step count travel with the pickle
    again.partial_fit(x, t)
    np.testing.assert_array_equal(again.predict_proba(x), est.predict_proba(x))
    assert again.loss_curve_ == est.loss_curve_


def test_clone_is_unfitted_with_the_same_parameters(digits):
    est = MLPClassifier(hidden_layer_sizes=(5, 4), alpha=0.1, dtype="float64").fit(*digits)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        twin.predict(digits[0])


def test_pipeline_and_grid_search(digits):
    x, t = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=30, random_state=0,
                                                         n_threads=1))
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1.0]}, cv=2).fit(x, t)
    assert search.best_score_ > 0.85
    assert search.cv_results_["mean_test_score"].shape == (2,)
    assert search.score(x, t) > 0.9


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params, name", [
    (dict(solver="lbfgs"), "solver"), (dict(alpha=-1.0), "alpha"),
    (dict(hidden_layer_sizes=0), "hidden_layer_sizes"), (dict(dtype="float16"), "dtype"),
    (dict(n_threads=0), "n_threads"), (dict(batch_size=0), "batch_size"),
    (dict(momentum=1.5), "momentum"), (dict(activation="softplus"), "activation"),
])
def test_bad_parameters_raise_at_fit_not_at_construction(digits, params, name):
    est = MLPClassifier(**params)  # scikit-learn's rule: __init__ only stores them
    with pytest.raises(ValueError, match=f"'{name}' parameter of MLPClassifier"):
        est.fit(*digits)


def test_bad_hidden_layer_sizes_and_incompatible_warm_start(digits):
    x, t = digits
    with pytest.raises(ValueError, match="hidden_layer_sizes must be positive integers"):
        MLPClassifier(hidden_layer_sizes=(10, 0)).fit(x, t)
    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=1, warm_start=True).fit(x, t)
    with pytest.raises(ValueError, match=r"layer sizes \[64, 10, 10\].*\[64, 12, 10\]"):
        est.set_params(hidden_layer_sizes=(12,)).fit(x, t)


def test_bad_data_gets_a_clear_error(digits):
    x, t = digits
    bad = x.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(bad, t)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(x, t + 0.5)
    with pytest.raises(ValueError, match="only one class"):
        MLPClassifier().fit(x, np.zeros(len(x), int))
    est = MLPClassifier(max_iter=1).fit(x, t)
    with pytest.raises(ValueError, match="64 features"):
        est.predict(x[:, :10])
    with pytest.raises(ValueError, match="NaN"):
        est.predict(bad)
    with pytest.raises(ValueError, match="classes not in `self.classes_`"):
        est.partial_fit(x, t + 1)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(x, t)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(x, t, classes=np.arange(10))
    with pytest.raises(TypeError, match="[Ss]parse"):
        import scipy.sparse

        MLPClassifier().fit(scipy.sparse.csr_matrix(x), t)


def test_divergence_is_a_value_error_naming_it():
    x, y = regression_data(1)
    with pytest.raises(ValueError, match="diverged"):
        MLPRegressor(solver="sgd", learning_rate_init=1e3, momentum=0.0,
                     max_iter=20).fit(x * 1e3, y)


def test_convergence_warning_and_verbose_output(digits, capsys):
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPClassifier(max_iter=2, verbose=True).fit(*digits)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out


# --- threads ----------------------------------------------------------------------------------


def blas_threads():
    return max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


def test_thread_budget_limits_numba_and_blas_and_restores_them():
    before_numba, before_blas = numba.get_num_threads(), blas_threads()
    with thread_budget(1) as n:
        assert n == 1
        assert numba.get_num_threads() == 1 and blas_threads() == 1
    assert (numba.get_num_threads(), blas_threads()) == (before_numba, before_blas)
    with thread_budget() as n:  # default: what the process has
        assert n == min(before_numba, before_blas)


def test_fit_trains_inside_the_thread_budget(digits, monkeypatch):
    seen = []
    real_fit = numbann.fit

    def recording_fit(*args, **kwargs):
        seen.append((numba.get_num_threads(), blas_threads()))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(numbann, "fit", recording_fit)
    before = numba.get_num_threads()
    est = MLPClassifier(max_iter=1, n_threads=1).fit(*digits)
    assert seen == [(1, 1)] and est.n_threads_ == 1
    assert numba.get_num_threads() == before


def test_joblib_workers_train_on_one_thread_each(digits, monkeypatch):
    """loky gives each of n_jobs=2 workers cores // 2 threads (NUMBA_NUM_THREADS, OMP, BLAS)
    unless those variables are set here; on a machine with fewer than 4 cores that is one."""
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    before = numba.get_num_threads()
    res = cross_validate(MLPClassifier(max_iter=20, random_state=0), *digits, cv=2, n_jobs=2,
                         return_estimator=True)
    assert [e.n_threads_ for e in res["estimator"]] == [max(os.cpu_count() // 2, 1)] * 2
    assert all(score > 0.5 for score in res["test_score"])
    assert numba.get_num_threads() == before
