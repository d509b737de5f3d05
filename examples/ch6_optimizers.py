"""Chapter 6.1.7: SGD, Momentum, AdaGrad and Adam on f(x, y) = x²/20 + y² (Figure 6-8).

The textbook's optimizer_compare_naive.py: start at (−7, 2), 30 updates each,
with the book's learning rates (SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam
0.3). The position is an nb.Parameter and each optimizer is numbann's
(torch.optim's update rules); the gradient ∂f/∂x = x/10, ∂f/∂y = 2y is
written into ``p.grad`` before every ``opt.step()``, as backward() would.

numbann's Momentum is the book's rule exactly (v = −lr·b). AdaGrad is given
the book's eps=1e-7. Adam keeps torch's conventions (eps=1e-8, added after the
bias correction); the book adds 1e-7 before it. To show what that changes,
the example also runs the book's four classes (common/optimizer.py, re-typed
below in NumPy) and prints how far apart the two trajectories get.

Prints, per optimizer, the final position, f there, and the largest
distance between numbann's and the textbook's trajectory over the 30 steps
(≈1e-15 for SGD, Momentum, AdaGrad; ≈1e-5 for Adam). --quick changes nothing
(the run takes milliseconds).

Writes ch6_optimizers_2d.png: the four trajectories over the contours of f.
"""

import numpy as np
from _common import parse_args, save

import numbann as nb

INIT = (-7.0, 2.0)
STEPS = 30


def f(x, y):
    return x**2 / 20.0 + y**2


def df(x, y):
    return x / 10.0, 2.0 * y


def numbann_optimizers(p):
    return {
        "SGD": nb.optim.SGD([p], lr=0.95),
        "Momentum": nb.optim.Momentum([p], lr=0.1),  # momentum 0.9, as the book
        "AdaGrad": nb.optim.AdaGrad([p], lr=1.5, eps=1e-7),  # the book's eps
        "Adam": nb.optim.Adam([p], lr=0.3),  # torch's eps=1e-8, after bias correction
    }


def numbann_trajectory(name):
    p = nb.Parameter(np.array(INIT))
    opt = numbann_optimizers(p)[name]
    path = []
    for _ in range(STEPS):
        path.append(p.data.copy())
        opt.zero_grad()
        p.grad = df(*p.data)
        opt.step()
    path.append(p.data.copy())
    return np.array(path)


def textbook_trajectory(name, lr):
    """The book's common/optimizer.py classes, reduced to one 2-vector."""
    p = np.array(INIT)
    v = np.zeros(2)
    h = np.zeros(2)
    m = np.zeros(2)
    path = []
    for it in range(1, STEPS + 1):
        path.append(p.copy())
        g = np.array(df(*p))
        if name == "SGD":
            p -= lr * g
        elif name == "Momentum":
            v = 0.9 * v - lr * g
            p += v
        elif name == "AdaGrad":
            h += g * g
            p -= lr * g / (np.sqrt(h) + 1e-7)
        elif name == "Adam":
            beta1, beta2 = 0.9, 0.999
            lr_t = lr * np.sqrt(1.0 - beta2**it) / (1.0 - beta1**it)
            m += (1 - beta1) * (g - m)
            h += (1 - beta2) * (g**2 - h)
            p -= lr_t * m / (np.sqrt(h) + 1e-7)
    path.append(p.copy())
    return np.array(path)


def main(argv=None):
    args = parse_args(__doc__, argv)
    import matplotlib.pyplot as plt

    lrs = {"SGD": 0.95, "Momentum": 0.1, "AdaGrad": 1.5, "Adam": 0.3}
    x = np.arange(-10, 10, 0.01)
    y = np.arange(-5, 5, 0.01)
    X, Y = np.meshgrid(x, y)
    Z = f(X, Y)
    Z[Z > 7] = 0  # the book's mask, for a simpler contour plot

    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    print(f"{'optimizer':>9} {'final (x, y)':>22} {'f(x, y)':>10} {'vs textbook':>12}")
    for ax, name in zip(axes.ravel(), lrs):
        path = numbann_trajectory(name)
        book = textbook_trajectory(name, lrs[name])
        gap = np.max(np.linalg.norm(path - book, axis=1))
        final = path[-1]
        print(f"{name:>9} ({final[0]:9.5f}, {final[1]:9.5f}) {f(*final):10.6f} {gap:12.1e}")
        ax.plot(path[:, 0], path[:, 1], "o-", color="red", markersize=3)
        ax.contour(X, Y, Z)
        ax.plot(0, 0, "+", color="black")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-10, 10)
        ax.set_title(f"{name} (lr={lrs[name]})")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    fig.suptitle("Figure 6-8: four optimizers on f(x, y) = x²/20 + y²")
    fig.tight_layout()
    save(fig, args.out, "ch6_optimizers_2d.png")


if __name__ == "__main__":
    main()
