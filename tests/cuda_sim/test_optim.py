"""CUDA optimizer kernels over a flat buffer against the CPU kernels and torch.optim's rules."""

import numpy as np
import pytest
import reference as ref
from simutil import DTYPES, close, dev, host

from numbann.kernels import optim as cpu
from numbann.kernels.cuda import optim as gpu

P = 50  # 50 parameters over 3 blocks x 8 threads: grid-stride


def _run(rng, dtype, n_state, cpu_step, gpu_step, steps=3):
    """Apply *steps* updates on both devices with the same gradients; return both results."""
    p = rng.standard_normal(P).astype(dtype)
    state = [np.zeros(P, dtype) for _ in range(n_state)]
    gp, gstate = dev(p), [dev(s) for s in state]
    for step in range(1, steps + 1):
        g = rng.standard_normal(P).astype(dtype)
        cpu_step(p, g, state, step)
        gpu_step(gp, dev(g), gstate, step)
    return (p, state), (host(gp), [host(s) for s in gstate])


def _check(dtype, cpu_result, gpu_result):
    (p, state), (gp, gstate) = cpu_result, gpu_result
    close(gp, p, dtype)
    for s, gs in zip(state, gstate):
        close(gs, s, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,dampening,nesterov,wd", [
    (0.0, 0.0, False, 0.0), (0.9, 0.0, False, 0.0), (0.9, 0.1, False, 1e-2),
    (0.8, 0.0, True, 1e-3)])
def test_sgd(momentum, dampening, nesterov, wd, dtype, rng):
    hyper = (0.1, momentum, dampening, nesterov, wd)

    def c(p, g, st, step):
        cpu.sgd_step(p, g, st[0], *hyper, step == 1)

    def d(p, g, st, step):
        gpu.sgd_step(p, g, st[0] if momentum else None, *hyper, step == 1)

    _check(dtype, *_run(rng, dtype, 1, c, d))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lr_decay,wd", [(0.0, 0.0), (0.1, 1e-2)])
def test_adagrad(lr_decay, wd, dtype, rng):
    def c(p, g, st, step):
        cpu.adagrad_step(p, g, st[0], 0.05, lr_decay, wd, 1e-10, step)

    def d(p, g, st, step):
        gpu.adagrad_step(p, g, st[0], 0.05, lr_decay, wd, 1e-10, step)

    _check(dtype, *_run(rng, dtype, 1, c, d))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,centered,wd", [
    (0.0, False, 0.0), (0.9, False, 0.0), (0.0, True, 1e-2), (0.5, True, 0.0)])
def test_rmsprop(momentum, centered, wd, dtype, rng):
    hyper = (0.01, 0.99, 1e-8, wd, momentum, centered)

    def c(p, g, st, step):
        cpu.rmsprop_step(p, g, st[0], st[1], st[2], *hyper)

    def d(p, g, st, step):
        gpu.rmsprop_step(p, g, st[0], st[1] if centered else None,
                         st[2] if momentum else np.empty(0, dtype), *hyper)

    _check(dtype, *_run(rng, dtype, 3, c, d))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad,wd", [(False, 0.0), (True, 1e-2)])
def test_adam(amsgrad, wd, dtype, rng):
    hyper = (1e-2, 0.9, 0.999, 1e-8, wd)

    def c(p, g, st, step):
        cpu.adam_step(p, g, st[0], st[1], st[2], *hyper, step, amsgrad)

    def d(p, g, st, step):
        gpu.adam_step(p, g, st[0], st[1], st[2] if amsgrad else None, *hyper, step, amsgrad)

    _check(dtype, *_run(rng, dtype, 3, c, d, steps=4))


def test_adam_matches_torch_rule_reference(rng):
    p = rng.standard_normal(P)
    state, m, v, vmax = {}, dev(np.zeros(P)), dev(np.zeros(P)), dev(np.zeros(P))
    gp = dev(p)
    for step in range(1, 4):
        g = rng.standard_normal(P)
        p = ref.adam(p, g, state, lr=1e-2, amsgrad=True)
        gpu.adam_step(gp, dev(g), m, v, vmax, 1e-2, 0.9, 0.999, 1e-8, 0.0, step, True)
    close(host(gp), p, np.float64)
