"""numbann.functional and numbann.gradient: known values, reference, bad input."""

import numpy as np
import pytest
import reference as ref

from numbann import functional as F
from numbann import gradient as G

# --- known values from the textbook and the issue --------------------------


def test_mean_squared_error_known_value():
    y = [1.0, 1.3, 1.5, 2.1, 3.0, 2.2]
    t = [1.3, 1.2, 2.2, 2.4, 2.7, 2.0]
    assert F.mean_squared_error(y, t) == pytest.approx(0.135, rel=1e-12)


def test_softmax_cross_entropy_known_value():
    logits, labels = [[1, 2, 3], [3, 1, 2]], [2, 0]
    assert F.softmax_cross_entropy(logits, labels) == pytest.approx(0.40760596, abs=1e-8)
    z32 = np.array(logits, np.float32)
    assert F.softmax_cross_entropy(z32, labels) == pytest.approx(0.407606, abs=1e-6)
    onehot = np.eye(3)[labels]
    assert F.softmax_cross_entropy(logits, onehot) == pytest.approx(0.40760596, abs=1e-8)


def test_textbook_loss_examples():
    t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    y = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
    assert F.sum_squared_error(y, t) == pytest.approx(0.0975, rel=1e-12)
    assert F.cross_entropy_error(y, t) == pytest.approx(0.510825, abs=1e-6)
    assert F.cross_entropy_error(np.array(y), 2) == pytest.approx(0.510825, abs=1e-6)
    y2 = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]
    assert F.sum_squared_error(y2, t) == pytest.approx(0.5975, rel=1e-12)
    assert F.cross_entropy_error(y2, t) == pytest.approx(2.302584, abs=1e-6)


def test_textbook_three_layer_forward_pass():
    x = np.array([1.0, 0.5])
    W1 = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]])
    b1 = np.array([0.1, 0.2, 0.3])
    W2 = np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]])
    b2 = np.array([0.1, 0.2])
    W3 = np.array([[0.1, 0.3], [0.2, 0.4]])
    b3 = np.array([0.1, 0.2])
    z1 = F.sigmoid(x @ W1 + b1)
    z2 = F.sigmoid(z1 @ W2 + b2)
    y = F.identity_function(z2 @ W3 + b3)
    np.testing.assert_allclose(y, [0.3168271, 0.6962791], atol=5e-8)


def test_numerical_gradient_and_descent_known_values():
    def f(x):
        return np.sum(x**2)

    np.testing.assert_allclose(G.numerical_gradient(f, [3.0, 4.0]), [6.0, 8.0], rtol=1e-9)
    np.testing.assert_allclose(G.numerical_gradient(f, [0.0, 2.0]), [0.0, 4.0], atol=1e-9)
    x = G.gradient_descent(f, [3.0, 4.0], lr=0.1, step_num=100)
    assert np.max(np.abs(x)) < 1e-9
    # the textbook's warnings: too large and too small learning rates
    assert np.max(np.abs(G.gradient_descent(f, [-3.0, 4.0], lr=10.0, step_num=100))) > 1e10
    assert np.allclose(G.gradient_descent(f, [-3.0, 4.0], lr=1e-10, step_num=100), [-3, 4])


def test_numerical_diff_known_values():
    def f(x):
        return 0.01 * x**2 + 0.1 * x

    assert G.numerical_diff(f, 5) == pytest.approx(0.2, abs=1e-9)
    assert G.numerical_diff(f, 10) == pytest.approx(0.3, abs=1e-9)


# --- against the reference --------------------------------------------------------


@pytest.mark.parametrize("name,fn", [("identity", F.identity_function), ("step", F.step_function),
                                     ("sigmoid", F.sigmoid), ("tanh", F.tanh), ("relu", F.relu)])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)])
def test_elementwise_any_shape(name, fn, shape, rng):
    x = rng.standard_normal(shape) * 3
    y = fn(x)
    assert y.shape == np.shape(x) and y.dtype == np.float64
    np.testing.assert_allclose(y, ref.activation(name, x), rtol=1e-12, atol=1e-14)


def test_gradient_functions(rng):
    x = rng.standard_normal((4, 5))
    s = ref.sigmoid(x)
    np.testing.assert_allclose(F.sigmoid_grad(x), s * (1 - s), rtol=1e-12)
    np.testing.assert_array_equal(F.relu_grad(x), (x > 0).astype(float))
    np.testing.assert_array_equal(F.relu_grad([0.0]), [0.0])


def test_softmax_1d_and_2d(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(F.softmax(x), ref.activation("softmax", x), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(x[0]), ref.activation("softmax", x[0]), rtol=1e-12)
    assert F.softmax(x[0]).shape == (4,)


def test_loss_functions_match_reference(rng):
    z = rng.standard_normal((6, 4))
    t = rng.integers(0, 4, 6)
    p = ref.activation("softmax", z)
    assert F.softmax_cross_entropy(z, t) == pytest.approx(ref.softmax_cross_entropy(z, t)[0])
    assert F.cross_entropy_error(p, t) == pytest.approx(ref.cross_entropy_error(p, t)[0])
    assert F.cross_entropy_error(p, np.eye(4)[t]) == pytest.approx(
        ref.cross_entropy_error(p, t)[0])
    r = rng.standard_normal((6, 4))
    assert F.sum_squared_error(z, r) == pytest.approx(ref.squared_error(z, r, 0.5)[0])
    assert F.mean_squared_error(z, r) == pytest.approx(ref.squared_error(z, r, 1 / 24)[0])
    b = rng.uniform(size=(6, 4))
    assert F.binary_cross_entropy_with_logits(z, b) == pytest.approx(ref.bce_with_logits(z, b)[0])


def test_dtype_is_kept_or_converted():
    assert F.sigmoid(np.zeros(3, np.float32)).dtype == np.float32
    assert F.sigmoid(np.zeros(3, np.float16)).dtype == np.float32
    assert F.sigmoid(np.arange(3)).dtype == np.float64
    assert F.relu([True, False]).dtype == np.float64
    assert F.softmax_cross_entropy(np.zeros((2, 3), np.float32), [0, 1]) == pytest.approx(
        np.log(3), rel=1e-6)


def test_non_contiguous_and_read_only_input(rng):
    x = rng.standard_normal((6, 8))
    view = x[::2, ::3]
    np.testing.assert_allclose(F.softmax(view), ref.activation("softmax", view), rtol=1e-12)
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(F.tanh(ro), np.tanh(x), rtol=1e-12)
    assert F.softmax_cross_entropy(ro, np.zeros(6, int)) == pytest.approx(
        ref.softmax_cross_entropy(x, np.zeros(6, int))[0])


# --- bad input: clear errors, never a Numba typing error -------------------------


@pytest.mark.parametrize("bad,exc,match", [
    (np.array(["a", "b"]), TypeError, "real numeric"),
    (np.array([1 + 2j]), TypeError, "real numeric"),
    (np.array([object()]), TypeError, "real numeric"),
])
def test_non_numeric_input_is_rejected(bad, exc, match):
    with pytest.raises(exc, match=match):
        F.sigmoid(bad)


def test_loss_input_errors():
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"label 4 out of range.*\[0, 3\]"):
        F.softmax_cross_entropy(z, [0, 1, 4])
    with pytest.raises(ValueError, match="label -1 out of range"):
        F.cross_entropy_error(z + 0.25, [0, -1, 2])
    with pytest.raises(ValueError, match=r"3 class labels of shape \(3,\)"):
        F.softmax_cross_entropy(z, [0, 1])
    with pytest.raises(ValueError, match="non-integer"):
        F.softmax_cross_entropy(z, [0.5, 1, 2])
    with pytest.raises(ValueError, match=r"target matrix \(3, 4\)"):
        F.softmax_cross_entropy(z, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="shape"):
        F.mean_squared_error([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="empty"):
        F.softmax(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="empty"):
        F.mean_squared_error([], [])
    with pytest.raises(ValueError, match="1-D or 2-D"):
        F.softmax(np.zeros((2, 2, 2)))


def test_float_labels_that_are_whole_numbers_are_accepted():
    z = np.zeros((2, 3))
    assert F.softmax_cross_entropy(z, np.array([0.0, 2.0])) == pytest.approx(np.log(3))


def test_numerical_gradient_in_place_contract(rng):
    w = rng.standard_normal((3, 4))
    before = w.copy()

    def loss(_):
        return np.sum(np.sin(w))  # reads w through the closure, as the textbook's nets do

    g = G.numerical_gradient(loss, w)
    np.testing.assert_allclose(g, np.cos(before), rtol=1e-7)
    np.testing.assert_array_equal(w, before)  # restored exactly
    with pytest.raises(TypeError, match="float array"):
        G.numerical_gradient(loss, np.arange(3))
    ro = w.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        G.numerical_gradient(loss, ro)
    with pytest.raises(ValueError, match="positive"):
        G.numerical_gradient(loss, w, h=0.0)
    with pytest.raises(ValueError, match="learning rate"):
        G.gradient_descent(loss, w, lr=-1)


def test_numerical_gradient_compiled_function_path(rng):
    from numba import njit

    @njit
    def f(x):
        return np.sum(x**3)

    x = rng.standard_normal((2, 3))
    np.testing.assert_allclose(G.numerical_gradient(f, x), 3 * x**2, rtol=1e-6)
    np.testing.assert_allclose(G.numerical_gradient(f, x[:, ::2].copy()), 3 * x[:, ::2] ** 2,
                               rtol=1e-6)


def test_gradient_descent_history_and_no_mutation():
    init = np.array([3.0, 4.0])
    x, hist = G.gradient_descent(lambda v: np.sum(v**2), init, lr=0.1, step_num=20,
                                 return_history=True)
    assert hist.shape == (20, 2)
    np.testing.assert_array_equal(hist[0], [3.0, 4.0])
    np.testing.assert_array_equal(init, [3.0, 4.0])
    np.testing.assert_allclose(x, np.array([3.0, 4.0]) * 0.8**20, rtol=1e-6)
