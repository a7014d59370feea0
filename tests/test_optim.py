"""Optimisers and schedules against their formulas, computed by hand in numpy."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.nn import Linear, Sequential
from tinygrad_edu.optim import SGD, Adam, CosineLR, StepLR
from tinygrad_edu.testing.strategies import arrays

lrs = st.floats(1e-4, 1.0)
factors = st.floats(0.0, 0.99)


def leaf(values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def run_steps(opt, params, grads_per_step):
    """Give each parameter its gradient for the step, then step."""
    for grads in grads_per_step:
        for p, g in zip(params, grads, strict=True):
            p.grad = Tensor(np.array(g, dtype=np.float64))
        opt.step()


# ---- SGD ---------------------------------------------------------------------------------

@given(w=arrays((3, 2)), g=arrays((3, 2)), lr=lrs)
def test_sgd_step_is_w_minus_lr_g(w, g, lr):
    p = leaf(w)
    run_steps(SGD([p], lr=lr), [p], [[g]])
    np.testing.assert_allclose(p.data, w - lr * g, rtol=1e-12, atol=1e-12)


@given(w=arrays((4,)), g1=arrays((4,)), g2=arrays((4,)), lr=lrs, mu=factors)
def test_sgd_momentum_two_steps_by_hand(w, g1, g2, lr, mu):
    p = leaf(w)
    run_steps(SGD([p], lr=lr, momentum=mu), [p], [[g1], [g2]])
    buf = g1                                   # the first step's buffer is the gradient
    w1 = w - lr * buf
    buf = mu * buf + g2
    np.testing.assert_allclose(p.data, w1 - lr * buf, rtol=1e-10, atol=1e-10)


@given(w=arrays((4,)), g1=arrays((4,)), g2=arrays((4,)), lr=lrs, mu=st.floats(0.1, 0.99))
def test_sgd_nesterov_two_steps_by_hand(w, g1, g2, lr, mu):
    p = leaf(w)
    run_steps(SGD([p], lr=lr, momentum=mu, nesterov=True), [p], [[g1], [g2]])
    buf = g1
    w1 = w - lr * (g1 + mu * buf)
    buf = mu * buf + g2
    np.testing.assert_allclose(p.data, w1 - lr * (g2 + mu * buf), rtol=1e-10, atol=1e-10)


@given(w=arrays((4,)), g1=arrays((4,)), g2=arrays((4,)), mu=st.floats(0.1, 0.99),
       damp=st.floats(0.0, 1.0))
def test_sgd_dampening_by_hand(w, g1, g2, mu, damp):
    p = leaf(w)
    run_steps(SGD([p], lr=0.1, momentum=mu, dampening=damp), [p], [[g1], [g2]])
    w1 = w - 0.1 * g1
    expected = w1 - 0.1 * (mu * g1 + (1 - damp) * g2)
    np.testing.assert_allclose(p.data, expected, rtol=1e-10, atol=1e-10)


@given(w=arrays((4,)), g=arrays((4,)), lr=lrs, wd=st.floats(0.0, 0.1))
def test_sgd_weight_decay_adds_wd_times_w_to_the_gradient(w, g, lr, wd):
    p = leaf(w)
    run_steps(SGD([p], lr=lr, weight_decay=wd), [p], [[g]])
    np.testing.assert_allclose(p.data, w - lr * (g + wd * w), rtol=1e-10, atol=1e-10)


def test_sgd_does_not_change_the_gradient():
    p = leaf([1.0, 2.0])
    g = np.array([0.5, -0.5])
    run_steps(SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), [p], [[g], [g]])
    np.testing.assert_array_equal(p.grad.data, g)


def test_sgd_updates_in_place():
    p = leaf([1.0, 2.0])
    array = p.data
    run_steps(SGD([p], lr=0.1), [p], [[[1.0, 1.0]]])
    assert p.data is array


def test_sgd_skips_parameters_without_a_gradient():
    a, b = leaf([1.0]), leaf([2.0])
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = Tensor(np.array([1.0]))
    opt.step()
    assert b.data[0] == 2.0 and a.data[0] == pytest.approx(0.9)


def test_sgd_step_matches_the_seeds_update_on_a_real_backward():
    """000-update: `w := w - alpha * dw` on every parameter is one SGD step."""
    rng = np.random.default_rng(0)
    net = Sequential(Linear(4, 3, rng=rng, dtype=np.float64))
    before = {name: p.data.copy() for name, p in net.named_parameters()}
    x = Tensor(rng.standard_normal((5, 4)))
    (net(x) ** 2).mean().backward()
    grads = {name: p.grad.data.copy() for name, p in net.named_parameters()}
    SGD(net.parameters(), lr=0.1).step()
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.data, before[name] - 0.1 * grads[name], rtol=1e-12)


# ---- Adam --------------------------------------------------------------------------------

def adam_by_hand(w, grads, lr, b1, b2, eps, wd=0.0):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


@given(w=arrays((3,)), g1=arrays((3,)), g2=arrays((3,)), g3=arrays((3,)), lr=lrs,
       b1=st.floats(0.0, 0.99), b2=st.floats(0.5, 0.9999), wd=st.floats(0.0, 0.1))
def test_adam_three_steps_by_hand(w, g1, g2, g3, lr, b1, b2, wd):
    p = leaf(w)
    run_steps(Adam([p], lr=lr, betas=(b1, b2), weight_decay=wd), [p], [[g1], [g2], [g3]])
    expected = adam_by_hand(w, [g1, g2, g3], lr, b1, b2, 1e-8, wd)
    np.testing.assert_allclose(p.data, expected, rtol=1e-7, atol=1e-9)


def test_adam_first_step_moves_each_weight_by_about_lr():
    p = leaf([1.0, -1.0, 3.0])
    run_steps(Adam([p], lr=0.01), [p], [[[5.0, -0.2, 1e-3]]])
    np.testing.assert_allclose(p.data, [0.99, -0.99, 2.99], atol=1e-5)


def test_adam_counts_steps_per_parameter():
    """A parameter without a gradient is skipped and its step count does not advance."""
    a, b = leaf([1.0]), leaf([1.0])
    opt = Adam([a, b], lr=0.1)
    a.grad = Tensor(np.array([1.0]))
    opt.step()
    b.grad = Tensor(np.array([1.0]))
    a.grad = None
    opt.step()
    np.testing.assert_allclose(b.data, adam_by_hand(np.array([1.0]), [np.array([1.0])], 0.1,
                                                    0.9, 0.999, 1e-8))


def test_adam_keeps_float32_parameters_float32():
    p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = Adam([p], lr=0.1, weight_decay=0.01)
    p.grad = Tensor(np.ones(3, dtype=np.float32))
    opt.step()
    assert p.data.dtype == np.float32 and opt.state[id(p)]["exp_avg"].dtype == np.float32


# ---- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize(("make", "message"), [
    (lambda ps: SGD(ps, lr=-0.1), r"SGD: lr must be >= 0.0, got -0.1"),
    (lambda ps: SGD(ps, lr="fast"), r"SGD: lr must be >= 0.0, got 'fast'"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-1), r"SGD: momentum must be >= 0.0, got -1"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1e-4), r"SGD: weight_decay must be >= 0.0"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), r"SGD: nesterov=True needs momentum > 0"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), r"Adam: betas\[0\] must be >= 0.0 and < 1.0"),
    (lambda ps: Adam(ps, betas=(0.9, -0.1)), r"Adam: betas\[1\] must be >= 0.0 and < 1.0"),
    (lambda ps: Adam(ps, betas=0.9), r"Adam: betas must be a pair"),
    (lambda ps: Adam(ps, eps=-1.0), r"Adam: eps must be >= 0.0"),
    (lambda ps: Adam(ps, lr=-1e-3), r"Adam: lr must be >= 0.0"),
])
def test_bad_hyperparameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make([leaf([1.0])])


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_empty_parameter_list_is_an_error(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__}: got an empty parameter list"):
        cls([], lr=0.1)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_duplicated_parameter_is_an_error(cls):
    p = leaf([1.0])
    with pytest.raises(ValueError, match=r"parameter 2 \(shape \(1,\)\) appears twice"):
        cls([p, leaf([2.0]), p], lr=0.1)


def test_parameters_must_be_grad_requiring_leaf_tensors():
    with pytest.raises(ValueError, match="parameter 0 .* does not require grad"):
        SGD([Tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 .* is not a leaf"):
        SGD([leaf([1.0]) * 2], lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 is a list, not a Tensor"):
        SGD([[1.0]], lr=0.1)


def test_passing_the_model_or_a_tensor_says_what_to_pass():
    with pytest.raises(TypeError, match=r"pass the model's parameters, not the model"):
        SGD(Linear(2, 2), lr=0.1)
    with pytest.raises(TypeError, match=r"wrap it in a list"):
        SGD(leaf([1.0]), lr=0.1)


def test_zero_grad_clears_every_gradient():
    a, b = leaf([1.0]), leaf([2.0])
    opt = SGD([a, b], lr=0.1)
    a.grad, b.grad = Tensor([1.0]), Tensor([1.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


# ---- schedules ---------------------------------------------------------------------------

@given(lr=lrs, step_size=st.integers(1, 5), gamma=st.floats(0.1, 1.0),
       steps=st.integers(1, 20))
def test_step_lr_is_base_times_gamma_to_the_floor(lr, step_size, gamma, steps):
    opt = SGD([leaf([0.0])], lr=lr)
    sched = StepLR(opt, step_size, gamma)
    for _ in range(steps):
        sched.step()
    assert opt.lr == pytest.approx(lr * gamma ** (steps // step_size))


@given(lr=lrs, total=st.integers(1, 30), min_frac=st.floats(0.0, 1.0),
       steps=st.integers(0, 40))
def test_cosine_lr_follows_half_a_cosine_then_stays_at_min(lr, total, min_frac, steps):
    min_lr = lr * min_frac
    opt = SGD([leaf([0.0])], lr=lr)
    sched = CosineLR(opt, total_steps=total, min_lr=min_lr)
    for _ in range(steps):
        sched.step()
    t = min(steps, total)
    expected = min_lr + (lr - min_lr) * (1 + math.cos(math.pi * t / total)) / 2
    assert opt.lr == pytest.approx(expected)
    assert sched.get_last_lr() == opt.lr


def test_cosine_lr_reaches_min_lr_at_total_steps():
    opt = Adam([leaf([0.0])], lr=1e-3)
    sched = CosineLR(opt, total_steps=10, min_lr=1e-5)
    lrs_seen = [sched.step() for _ in range(12)]
    assert lrs_seen[9] == pytest.approx(1e-5) and lrs_seen[11] == pytest.approx(1e-5)
    assert all(a >= b for a, b in zip(lrs_seen[:-1], lrs_seen[1:], strict=True))


def test_schedule_errors_are_named():
    opt = SGD([leaf([0.0])], lr=0.1)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive int, got 0"):
        StepLR(opt, 0)
    with pytest.raises(ValueError, match="CosineLR: total_steps must be a positive int"):
        CosineLR(opt, total_steps=0)
    with pytest.raises(ValueError, match=r"CosineLR: min_lr must be >= 0.0 and <= 0.1"):
        CosineLR(opt, total_steps=5, min_lr=0.5)
    with pytest.raises(TypeError, match="StepLR: expected an optimiser"):
        StepLR([leaf([0.0])], 2)
