"""numbann.plot: what each figure contains, saving, ax=, bad inputs, the headless backend."""

import os
import subprocess
import sys

import numpy as np
import pytest

import numbann as nb
from numbann import plot

plt = pytest.importorskip("matplotlib.pyplot")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch):
    def no_show(*args, **kwargs):  # library functions must never call plt.show()
        raise AssertionError("plt.show() called")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def history():
    x, t = nb.datasets.load_digits(normalize=True)
    x_train, x_test, t_train, t_test = nb.datasets.train_test_split(x, t, seed=0)
    model = nb.models.MultiLayerNet(64, [20], 10, rng=0)
    opt = nb.optim.Adam(model.parameters(), lr=0.01)
    return nb.fit(model, nb.CrossEntropyLoss(), opt, x_train, t_train, epochs=3, batch_size=32,
                  validation_data=(x_test, t_test), seed=0, verbose=0)


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 2000


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


# --- plot_activations ------------------------------------------------------------------------


def test_activations_four_panels_with_the_textbook_functions(tmp_path):
    fig = plot.plot_activations(path=tmp_path / "act.png")
    assert_png(tmp_path / "act.png")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["step", "sigmoid", "tanh", "ReLU"]
    expected = {"step": lambda x: (x > 0).astype(float), "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
                "tanh": np.tanh, "ReLU": lambda x: np.maximum(x, 0)}
    for ax in axes:
        (curve,) = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
        x, y = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
        assert x[0] == pytest.approx(-5) and x[-1] == pytest.approx(5, abs=0.11)
        np.testing.assert_allclose(y, expected[ax.get_title()](x), atol=1e-6)
    assert axes[0].get_ylim() == pytest.approx((-0.1, 1.1))
    assert axes[3].get_ylim() == pytest.approx((-1.0, 5.5))


def test_activations_on_one_axes_with_a_legend():
    fig, ax = plt.subplots()
    assert plot.plot_activations(["step", "sigmoid"], ax=ax) is fig
    assert set(lines_by_label(ax)) == {"step", "sigmoid"}
    assert ax.get_legend() is not None
    assert lines_by_label(ax)["step"].get_linestyle() == "--"


def test_activations_subset_and_range():
    fig = plot.plot_activations("ReLU", x_range=(-1, 2))
    (ax,) = fig.axes
    x = ax.get_lines()[0].get_xdata()
    assert x[0] == pytest.approx(-1) and x[-1] == pytest.approx(2, abs=0.11)


@pytest.mark.parametrize("kwargs", [{"names": ["softplus"]}, {"names": []},
                                    {"x_range": (5, -5)}, {"x_range": (0, np.inf)}])
def test_activations_bad_input(kwargs):
    with pytest.raises(ValueError):
        plot.plot_activations(**kwargs)


# --- plot_history ------------------------------------------------------------------------


def test_history_lines_are_the_history(history, tmp_path):
    fig = plot.plot_history(history, path=tmp_path / "h.png")
    assert_png(tmp_path / "h.png")
    ax_loss, ax_acc = fig.axes
    h = history.history
    loss = lines_by_label(ax_loss)
    np.testing.assert_array_equal(loss["training"].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(loss["training"].get_ydata(), h["loss"])
    np.testing.assert_allclose(loss["validation"].get_ydata(), h["val_loss"])
    acc = lines_by_label(ax_acc)
    np.testing.assert_allclose(acc["training"].get_ydata(), h["accuracy"])
    np.testing.assert_allclose(acc["validation"].get_ydata(), h["val_accuracy"])
    assert ax_loss.get_xlabel() == "epoch" and ax_acc.get_ylabel() == "accuracy"
    # the per-iteration loss, smoothed, faint, spanning the epochs
    (faint,) = [line for label, line in loss.items() if "per iteration" in label]
    assert faint.get_alpha() < 0.5
    steps = history.params["steps"]
    window = round(steps / 5)
    expected = np.convolve(history.train_loss_list, np.ones(window) / window, mode="valid")
    np.testing.assert_allclose(faint.get_ydata(), expected)
    xs = faint.get_xdata()
    assert 0 < xs[0] < 1 and 2 < xs[-1] <= 3


def test_history_without_smoothing_shows_every_iteration(history):
    fig = plot.plot_history(history, smooth=1, val_label="test", title="run")
    loss = lines_by_label(fig.axes[0])
    faint = loss["training (per iteration)"]
    np.testing.assert_allclose(faint.get_ydata(), history.train_loss_list)
    steps = history.params["steps"]
    np.testing.assert_allclose(faint.get_xdata(), (np.arange(3 * steps) + 1) / steps)
    assert "test" in loss and fig._suptitle.get_text() == "run"


def test_history_from_a_dict_skips_missing_validation():
    logs = {"loss": [1.0, 0.5, 0.25], "accuracy": [0.5, 0.7, 0.8],
            "val_loss": [np.nan, 0.6, np.nan], "val_accuracy": [np.nan, np.nan, np.nan]}
    fig = plot.plot_history(logs)
    ax_loss, ax_acc = fig.axes
    loss = lines_by_label(ax_loss)
    assert set(loss) == {"training", "validation"}  # no per-iteration data in a dict
    np.testing.assert_array_equal(loss["validation"].get_xdata(), [2])
    assert set(lines_by_label(ax_acc)) == {"training"}


def test_history_without_accuracy_has_one_panel():
    fig = plot.plot_history({"loss": [3.0, 2.0], "val_loss": [3.5, 2.5]})
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "loss"


@pytest.mark.parametrize("bad, error", [({}, ValueError), ({"loss": []}, ValueError),
                                        ([1.0, 2.0], TypeError), ("history", TypeError)])
def test_history_bad_input(bad, error):
    with pytest.raises(error):
        plot.plot_history(bad)


def test_history_bad_smooth(history):
    with pytest.raises(ValueError, match="smooth"):
        plot.plot_history(history, smooth=0)


# --- confusion matrix --------------------------------------------------------------------------


def test_confusion_matrix_counts():
    t = [0, 0, 1, 1, 1, 2]
    p = [0, 1, 1, 1, 2, 2]
    m, labels = plot.confusion_matrix(t, p)
    np.testing.assert_array_equal(labels, [0, 1, 2])
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 2, 1], [0, 0, 1]])
    # one-hot targets and score rows give the same matrix
    scores = np.eye(3)[p] * 5 - 1
    m2, _ = plot.confusion_matrix(np.eye(3)[t], scores)
    np.testing.assert_array_equal(m2, m)
    m3, labels3 = plot.confusion_matrix(t, p, labels=[2, 1, 0, 3])
    np.testing.assert_array_equal(m3[:3, :3], m[::-1, ::-1])
    assert m3[3].sum() == m3[:, 3].sum() == 0 and list(labels3) == [2, 1, 0, 3]


def test_confusion_matrix_plot(tmp_path):
    rng = np.random.default_rng(0)
    t = rng.integers(0, 10, 300)
    p = np.where(rng.random(300) < 0.8, t, rng.integers(0, 10, 300))
    fig = plot.plot_confusion_matrix(t, p, path=tmp_path / "cm.png")
    assert_png(tmp_path / "cm.png")
    ax = fig.axes[0]
    (image,) = ax.images
    expected, _ = plot.confusion_matrix(t, p)
    np.testing.assert_array_equal(image.get_array(), expected)
    texts = [text.get_text() for text in ax.texts]
    assert len(texts) == 100 and texts[0] == str(expected[0, 0])
    assert f"{np.mean(t == p):.4f}" in ax.get_title()
    assert [tick.get_text() for tick in ax.get_xticklabels()] == [str(i) for i in range(10)]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"


def test_confusion_matrix_normalized_on_given_axes():
    fig, ax = plt.subplots()
    out = plot.plot_confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], normalize=True, ax=ax)
    assert out is fig
    np.testing.assert_allclose(ax.images[0].get_array(), [[0.5, 0.5], [0.0, 1.0]])
    assert [text.get_text() for text in ax.texts] == ["0.50", "0.50", "0.00", "1.00"]


@pytest.mark.parametrize("t, p, labels, match", [
    ([0, 1], [0, 1, 1], None, "same length"),
    ([], [], None, "empty"),
    ([0, 5], [0, 1], [0, 1], "not in labels"),
    ([0, 1], [0, 1], [0, 0, 1], "distinct"),
    (np.zeros((2, 2, 2)), [0, 1], None, "labels"),
])
def test_confusion_matrix_bad_input(t, p, labels, match):
    with pytest.raises(ValueError, match=match):
        plot.plot_confusion_matrix(t, p, labels)


# --- plot_weights ------------------------------------------------------------------------


def test_weights_digits_model_8x8_tiles(tmp_path):
    model = nb.models.MultiLayerNet(64, [16], 10, rng=0)
    fig = plot.plot_weights(model, path=tmp_path / "w.png")
    assert_png(tmp_path / "w.png")
    ax = fig.axes[0]
    assert len(ax.images) == 16
    w = model.linears[0].weight.data
    for k, image in enumerate(ax.images):
        np.testing.assert_allclose(image.get_array(), w[:, k].reshape(8, 8), rtol=1e-6)
        lo, hi = image.get_clim()
        assert lo == -hi == -np.abs(w[:, k]).max()  # symmetric scale per tile


def test_weights_mnist_sized_model_28x28_tiles_limited():
    model = nb.Sequential(nb.Linear(784, 30, rng=0), nb.ReLU(), nb.Linear(30, 10, rng=1))
    fig = plot.plot_weights(model, max_tiles=12, ncols=4)
    ax = fig.axes[0]
    assert len(ax.images) == 12
    assert all(image.get_array().shape == (28, 28) for image in ax.images)
    x0, _, y0, _ = ax.images[4].get_extent()
    assert x0 == 0 and y0 > 28  # the fifth tile starts the second row of four
    assert "12 of 30 units" in ax.get_title()


def test_weights_from_an_array_with_a_shape_and_given_axes():
    w = np.arange(30 * 3, dtype=float).reshape(30, 3)
    fig, ax = plt.subplots()
    assert plot.plot_weights(w, shape=(5, 6), ax=ax) is fig
    assert len(ax.images) == 3 and ax.images[0].get_array().shape == (5, 6)


def test_weights_bad_input():
    with pytest.raises(ValueError, match="not a square number"):
        plot.plot_weights(nb.Sequential(nb.Linear(30, 4)))
    with pytest.raises(ValueError, match="has 20 pixels"):
        plot.plot_weights(np.ones((30, 2)), shape=(4, 5))
    with pytest.raises(TypeError):
        plot.plot_weights(np.ones(5))
    with pytest.raises(ValueError, match="max_tiles"):
        plot.plot_weights(np.ones((4, 2)), max_tiles=0)


# --- show_images ------------------------------------------------------------------------


def images(n=12, side=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, side * side)), rng.integers(0, 10, n)


def test_show_images_highlights_misclassified(tmp_path):
    x, t = images()
    p = t.copy()
    p[[3, 7]] = (t[[3, 7]] + 1) % 10
    fig = plot.show_images(x, t, p, ncols=5, path=tmp_path / "img.png")
    assert_png(tmp_path / "img.png")
    axes = fig.axes
    assert len(axes) == 12
    for i, ax in enumerate(axes):
        (image,) = ax.images
        np.testing.assert_array_equal(image.get_array(), x[i].reshape(8, 8))
        assert ax.get_title() == f"{t[i]} → {p[i]}"
        wrong = i in (3, 7)
        red = plt.matplotlib.colors.to_rgba("tab:red")
        assert (ax.title.get_color() == "tab:red") == wrong
        assert (ax.spines["left"].get_edgecolor() == red) == wrong
    assert "2 of 12" in fig._suptitle.get_text()


def test_show_images_errors_only_and_class_names():
    x, t = images()
    p = t.copy()
    p[5] = (t[5] + 3) % 10
    names = [f"c{i}" for i in range(10)]
    fig = plot.show_images(x, t, p, errors_only=True, class_names=names)
    (ax,) = fig.axes
    assert ax.get_title() == f"c{t[5]} → c{p[5]}"
    np.testing.assert_array_equal(ax.images[0].get_array(), x[5].reshape(8, 8))


def test_show_images_shapes_and_limits():
    x, t = images(n=30, side=28)
    fig = plot.show_images(x.reshape(30, 1, 28, 28), t, max_images=7, ncols=3)
    assert len(fig.axes) == 7 and fig.axes[0].get_title() == str(t[0])
    fig = plot.show_images(x.reshape(30, 28, 28))
    assert len(fig.axes) == 30 and fig.axes[2].get_title() == "#2"
    fig = plot.show_images(np.ones((2, 12)), shape=(3, 4))
    assert fig.axes[0].images[0].get_array().shape == (3, 4)


@pytest.mark.parametrize("kwargs, match", [
    ({"x": np.ones((3, 10))}, "square"),
    ({"x": np.ones(9)}, "images"),
    ({"x": np.ones((3, 9)), "labels": [1, 2]}, "labels has 2 entries"),
    ({"x": np.ones((3, 9)), "labels": [1, 2, 3], "predictions": [1, 2]}, "predictions"),
    ({"x": np.ones((3, 9)), "labels": [1, 2, 3], "errors_only": True}, "needs labels"),
    ({"x": np.ones((3, 9)), "labels": [1, 2, 3], "predictions": [1, 2, 3],
      "errors_only": True}, "no misclassified"),
])
def test_show_images_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot.show_images(**kwargs)


# --- backend ------------------------------------------------------------------------


def _backend_in_subprocess(**env_changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    env.update(env_changes)
    code = ("import numbann.plot, matplotlib, sys; "
            "print(matplotlib.get_backend().lower(), 'matplotlib.pyplot' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_headless_import_uses_agg_and_leaves_a_chosen_backend_alone():
    assert _backend_in_subprocess() == ["agg", "True"]
    assert _backend_in_subprocess(MPLBACKEND="svg") == ["svg", "True"]
