"""numbann's entries: the compiled engine ("numbann") and the object API ("numbann-objects").

The object API is the step-by-step PyTorch-like loop every user can write::

    opt.zero_grad(); loss = loss_fn(model(x), t); loss.backward(); opt.step()

— with ``loss.backward()`` where the loss value has it (one tape per
forward, issue 13), else the textbook's ``model.backward(loss_fn.backward())``
(:class:`ObjectsTrainer` says which in its ``api``).

The engine is ``nb.fit`` (one compiled call per epoch). Until it exists,
:data:`ENGINE_MISSING` says why its benchmarks are skipped; they light up
when ``numbann.fit`` lands. The single-step entry goes through ``nb.fit`` on
one batch (so it includes fit's per-call overhead) — the one place to change
if the engine exposes a lower-level compiled-step handle.
"""

import inspect

import numpy as np
from workloads import ADAM, NET_INFER, plain_only

import numbann as nb

ENGINE_MISSING = None if hasattr(nb, "fit") else "numbann engine not built yet (no numbann.fit)"
#: ask fit for the compiled engine explicitly, so that a silent fallback to the object
#: path fails loudly instead of being timed as "the engine"
FIT_OPTIONS = ({"engine": "compiled"} if not ENGINE_MISSING
               and "engine" in inspect.signature(nb.fit).parameters else {})

_ACT = {"sigmoid": nb.Sigmoid, "relu": nb.ReLU}


def build_model(net, flat):
    """A Sequential for *net* holding a copy of the flat weights *flat*."""
    plain_only(net, "impl_numbann.build_model")
    layers = []
    for i, (a, b) in enumerate(net.layer_shapes):
        layers.append(nb.Linear(a, b, rng=0))
        if i < len(net.layer_shapes) - 1:
            layers.append(_ACT[net.act]())
    if net.output == "softmax":
        layers.append(nb.Softmax())
    model = nb.Sequential(*layers)
    assert model.flat_parameters.size == flat.size
    model.flat_parameters[...] = flat
    return model


def build_optimizer(net, model):
    if net.opt == "sgd":
        return nb.optim.SGD(model.parameters(), lr=net.lr)
    return nb.optim.Adam(model.parameters(), lr=net.lr, betas=(ADAM["beta1"], ADAM["beta2"]),
                         eps=ADAM["eps"])


#: the two ways the object API back-propagates a loss
BACKWARD_FORMS = {
    "tape": "loss.backward()",
    "textbook": "model.backward(loss_fn.backward())",
}


def has_tape():
    """Whether a loss value back-propagates itself (``loss.backward()``, issue 13)."""
    model = nb.Sequential(nb.Linear(2, 2, rng=0))
    loss = nb.CrossEntropyLoss()(model(np.zeros((1, 2), np.float32)), np.zeros(1, np.int64))
    return callable(getattr(loss, "backward", None))


class ObjectsTrainer:
    """numbann's object API, one Python-level step per mini-batch.

    *backward*: 'tape' (``loss.backward()``), 'textbook'
    (``model.backward(loss_fn.backward())``) or None — the tape where numbann has
    one, as its docs teach, else the textbook's call.
    """

    def __init__(self, net, flat, backward=None):
        self.net = net
        self.model = build_model(net, flat)
        self.loss_fn = nb.CrossEntropyLoss()
        self.opt = build_optimizer(net, self.model)
        if backward is None:
            backward = "tape" if has_tape() else "textbook"
        self.backward = backward

    @property
    def api(self):
        return f"object API: zero_grad, model(x), loss, {BACKWARD_FORMS[self.backward]}, " \
               "opt.step()"

    def step(self, x, t):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(x), t)
        if self.backward == "tape":
            loss.backward()
        else:
            self.model.backward(self.loss_fn.backward())
        self.opt.step()
        return loss

    def epoch(self, x, t, order, batch):
        loss = 0.0
        for s in range(0, order.shape[0], batch):
            idx = order[s:s + batch]
            loss = self.step(x[idx], t[idx])
        return loss

    def flat(self):
        return self.model.flat_parameters.copy()


class EngineTrainer(ObjectsTrainer):
    """numbann's compiled engine through ``nb.fit`` (needs :data:`ENGINE_MISSING` is None)."""

    api = "nb.fit (compiled engine)"

    def epoch_fit(self, x, t, shuffle=True, seed=0):
        """One epoch of ``nb.fit`` over all of x (the engine gathers its own batches)."""
        return nb.fit(self.model, self.loss_fn, self.opt, x, t, epochs=1,
                      batch_size=self.net.batch, shuffle=shuffle, seed=seed, verbose=0,
                      **FIT_OPTIONS)

    def step(self, x, t):
        """One training step on the batch (x, t): ``nb.fit`` over exactly that batch."""
        return nb.fit(self.model, self.loss_fn, self.opt, x, t, epochs=1,
                      batch_size=x.shape[0], shuffle=False, verbose=0, **FIT_OPTIONS)

    def steps(self, xs, ts, batch):
        """len(xs) // batch steps in one compiled call: ``nb.fit`` over *xs* in order —
        how the engine runs steps (per-step time = call time / steps)."""
        return nb.fit(self.model, self.loss_fn, self.opt, xs, ts, epochs=1, batch_size=batch,
                      shuffle=False, verbose=0, **FIT_OPTIONS)


def predict(model, x, batch):
    """Inference over all of x in batches: ``model.predict`` (the public inference call)."""
    return model.predict(x, batch_size=batch)


def inference_model(flat):
    return build_model(NET_INFER, flat)


def history_last_loss(history):
    """The last per-iteration loss of a History (``train_loss_list``), or None."""
    losses = getattr(history, "train_loss_list", None)
    return float(losses[-1]) if losses else None


def as_float(x):
    return float(np.asarray(x))
