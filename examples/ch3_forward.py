"""Chapter 3.4–3.5: the three-layer forward pass and softmax, with the textbook's numbers.

Section 3.4.3 builds a 2-3-2-2 network by hand (init_network / forward)
with sigmoid hidden layers and the identity at the output, and feeds it
x = [1.0, 0.5]. Here the same weights go into numbann layers — Linear stores
W as (in_features, out_features) exactly as the textbook's W1, W2, W3 — and
the forward pass runs twice: step by step with numbann.functional, and as one
nb.Sequential (one fused kernel per Linear + activation).

Prints y = [0.31682708 0.69627909] from both (section 3.4.3), then softmax of
a = [0.3, 2.9, 4.0] = [0.01821127 0.24519181 0.73659691] (section 3.5.1) and
softmax of [1010, 1000, 990], which overflows in the naive formula and not
here (section 3.5.2). No figure.
"""

import numpy as np
from _common import parse_args

import numbann as nb
from numbann import functional as F


def init_network():
    """The textbook's weights (float64)."""
    return {
        "W1": np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]), "b1": np.array([0.1, 0.2, 0.3]),
        "W2": np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]), "b2": np.array([0.1, 0.2]),
        "W3": np.array([[0.1, 0.3], [0.2, 0.4]]), "b3": np.array([0.1, 0.2]),
    }


def forward_functional(network, x):
    """The textbook's forward(), with numbann.functional."""
    a1 = x @ network["W1"] + network["b1"]
    z1 = F.sigmoid(a1)
    a2 = z1 @ network["W2"] + network["b2"]
    z2 = F.sigmoid(a2)
    a3 = z2 @ network["W3"] + network["b3"]
    return F.identity_function(a3)


def sequential_from(network):
    """The same network as nb.Sequential, its parameters copied from *network*."""
    model = nb.Sequential(
        nb.Linear(2, 3, dtype=np.float64), nb.Sigmoid(),
        nb.Linear(3, 2, dtype=np.float64), nb.Sigmoid(),
        nb.Linear(2, 2, dtype=np.float64),
    )
    for k, layer in enumerate(model.linears, start=1):
        layer.weight.data = network[f"W{k}"]  # assignment copies into the model's buffer
        layer.bias.data = network[f"b{k}"]
    return model


def main(argv=None):
    parse_args(__doc__, argv)
    np.set_printoptions(precision=8)
    network = init_network()
    x = np.array([1.0, 0.5])

    print("forward (functional):", forward_functional(network, x))
    model = sequential_from(network)
    print(model)
    print("forward (Sequential):", model(x))

    a = np.array([0.3, 2.9, 4.0])
    print("softmax(a):", F.softmax(a), "sum", F.softmax(a).sum())
    big = np.array([1010.0, 1000.0, 990.0])
    print("softmax([1010, 1000, 990]):", F.softmax(big))


if __name__ == "__main__":
    main()
