"""Optimizers: torch.optim's rules step by step, validation, state, non-flat parameter sets."""

import numpy as np
import pytest
import reference as ref

import numbann as nb


def make_model(dtype=np.float64):
    return nb.Sequential(nb.Linear(4, 3, dtype=dtype, rng=0), nb.Tanh(),
                         nb.Linear(3, 2, dtype=dtype, rng=1))


CASES = [
    (nb.optim.SGD, dict(lr=0.1), ref.sgd),
    (nb.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01), ref.sgd),
    (nb.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True), ref.sgd),
    (nb.optim.SGD, dict(lr=0.1, momentum=0.5, dampening=0.3), ref.sgd),
    (nb.optim.AdaGrad, dict(), ref.adagrad),
    (nb.optim.AdaGrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.5), ref.adagrad),
    (nb.optim.RMSProp, dict(), ref.rmsprop),
    (nb.optim.RMSProp, dict(momentum=0.9, centered=True, weight_decay=0.1), ref.rmsprop),
    (nb.optim.Adam, dict(), ref.adam),
    (nb.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, amsgrad=True), ref.adam),
]


@pytest.mark.parametrize("cls,hp,rule", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_steps_follow_the_torch_rule(cls, hp, rule, rng):
    model = make_model()
    opt = cls(model.parameters(), **hp)
    p_ref = model.flat_parameters.copy()
    state = {}
    for _ in range(5):
        g = rng.standard_normal(p_ref.size)
        opt.zero_grad()
        model.flat_gradients[...] = g
        opt.step()
        p_ref = rule(p_ref, g, state, **hp)
    np.testing.assert_allclose(model.flat_parameters, p_ref, rtol=1e-12, atol=1e-14)
    assert opt.step_count == 5


def test_first_sgd_and_adam_steps_by_hand():
    w = nb.Parameter(np.array([1.0, -2.0]))
    w.grad = [0.5, 0.25]
    nb.optim.SGD([w], lr=0.1, momentum=0.9).step()
    np.testing.assert_allclose(w.data, [1.0 - 0.05, -2.0 - 0.025])
    v = nb.Parameter(np.array([1.0, -2.0]))
    v.grad = [0.5, -4.0]
    nb.optim.Adam([v], lr=0.01).step()  # first Adam step moves by lr·sign(g)
    np.testing.assert_allclose(v.data, [0.99, -1.99], rtol=1e-7)


def test_torch_defaults():
    p = make_model().parameters()
    assert nb.optim.SGD(p).hyperparameters == dict(lr=1e-3, momentum=0.0, dampening=0.0,
                                                   weight_decay=0.0, nesterov=False)
    assert nb.optim.Adagrad(p).hyperparameters == dict(
        lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10)
    assert nb.optim.RMSprop(p).hyperparameters == dict(
        lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False)
    assert nb.optim.Adam(p).hyperparameters == dict(
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)
    assert nb.optim.Momentum(p).hyperparameters["momentum"] == 0.9


@pytest.mark.parametrize("make,message", [
    (lambda p: nb.optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: nb.optim.SGD(p, lr=float("nan")), "Invalid learning rate: nan"),
    (lambda p: nb.optim.SGD(p, momentum=-0.1), "Invalid momentum value: -0.1"),
    (lambda p: nb.optim.SGD(p, weight_decay=-1e-4), "Invalid weight_decay value"),
    (lambda p: nb.optim.SGD(p, nesterov=True), "Nesterov momentum requires"),
    (lambda p: nb.optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: nb.optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda p: nb.optim.Adam(p, eps=-1e-8), "Invalid epsilon value"),
    (lambda p: nb.optim.RMSProp(p, alpha=1.5), "Invalid alpha value: 1.5"),
    (lambda p: nb.optim.AdaGrad(p, lr_decay=-1), "Invalid lr_decay value"),
])
def test_hyperparameters_are_validated(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(make_model().parameters())


def test_parameter_list_is_validated():
    with pytest.raises(ValueError, match="empty parameter list"):
        nb.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Parameters"):
        nb.optim.SGD([np.zeros(3)], lr=0.1)
    p = make_model().parameters()
    with pytest.raises(ValueError, match="more than once"):
        nb.optim.SGD(p + p[:1], lr=0.1)


def test_state_is_allocated_up_front_and_flat():
    model = make_model(np.float32)
    opt = nb.optim.Adam(model.parameters(), amsgrad=True)
    assert set(opt.state) == {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    for arr in opt.state.values():
        assert arr.shape == model.flat_parameters.shape and arr.dtype == np.float32
    assert len(opt.segments()) == 1  # the whole buffer in one kernel call


def test_a_subset_of_parameters_steps_per_parameter(rng):
    model = make_model()
    first_layer = model[0].parameters()
    opt = nb.optim.Adam(first_layer, lr=0.1)
    assert len(opt.segments()) == 2
    frozen = model[2].weight.data.copy()
    before = model[0].weight.data.copy()
    model.flat_gradients[...] = rng.standard_normal(model.flat_gradients.size)
    opt.step()
    np.testing.assert_array_equal(model[2].weight.data, frozen)
    state = {}
    expect = ref.adam(before.ravel(), model[0].weight.grad.ravel(), state, lr=0.1)
    np.testing.assert_allclose(model[0].weight.data.ravel(), expect, rtol=1e-12)


def test_state_dict_round_trip_continues_identically(rng):
    grads = [rng.standard_normal(23) for _ in range(6)]
    a = make_model()
    opt_a = nb.optim.RMSProp(a.parameters(), momentum=0.9, centered=True)
    for g in grads[:3]:
        a.flat_gradients[...] = g
        opt_a.step()
    b = make_model()
    b.load_state_dict(a.state_dict())
    opt_b = nb.optim.RMSProp(b.parameters())
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.centered and opt_b.momentum == 0.9 and opt_b.step_count == 3
    for g in grads[3:]:
        for model, opt in ((a, opt_a), (b, opt_b)):
            model.flat_gradients[...] = g
            opt.step()
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)
    with pytest.raises(ValueError, match="for RMSProp, not Adam"):
        nb.optim.Adam(b.parameters()).load_state_dict(opt_a.state_dict())


def test_optimizer_follows_a_dtype_change(rng):
    model = make_model(np.float32)
    opt = nb.optim.Adam(model.parameters(), lr=0.1)
    model.double()
    model.flat_gradients[...] = 1.0
    opt.step()
    assert opt.state["exp_avg"].dtype == np.float64
    assert model.flat_parameters.dtype == np.float64


def test_lr_can_be_changed_between_steps():
    w = nb.Parameter(np.array([1.0]))
    opt = nb.optim.SGD([w], lr=0.1)
    w.grad = [1.0]
    opt.step()
    opt.lr = 0.5
    opt.step()
    np.testing.assert_allclose(w.data, [1.0 - 0.1 - 0.5])
