"""Optimisers and schedules against their formulas, computed by hand in numpy."""

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Tensor, function, inplace
from tinygrad_edu.errors import DtypeError, GraphError, ShapeError
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


# The update w -= lr g takes BLAS's axpy (one pass, no temporary) when scipy is installed,
# else numpy's two steps; both must give numpy's numbers (to the last bit: axpy may round once
# where numpy rounds lr g first) and update the parameter's own array.
ROUTES = {"blas": None, "numpy": lambda: {}}


def _route(name, monkeypatch):
    if name == "blas":
        pytest.importorskip("scipy", reason="the BLAS route needs scipy (the fast extra)")
    else:
        monkeypatch.setattr(inplace, "_blas_axpy", ROUTES[name])


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_update_routes_agree_with_numpy(route, dtype, monkeypatch):
    _route(route, monkeypatch)

    @given(data=st.data(), lr=lrs)
    def check(data, lr):
        shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
        values = hnp.arrays(dtype, shape, elements=st.floats(-10, 10, width=32))
        w, g = data.draw(values), data.draw(values)
        if w.ndim > 1 and data.draw(st.booleans(), label="column-major parameter"):
            w = np.asfortranarray(w)               # as nn.Linear stores its weight
        if w.ndim > 1 and data.draw(st.booleans(), label="column-major gradient"):
            g = np.asfortranarray(g)               # in another order than w: numpy's route
        p = Tensor(w.copy(order="K"), requires_grad=True)
        p.grad = Tensor(g.copy(order="K"))
        array, flat = p.data, p.data.ravel(order="K")
        SGD([p], lr=lr).step()
        expected = w - dtype(lr) * g
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(p.data, expected, rtol=2 * eps,
                                   atol=2 * eps * np.abs(expected).max(initial=0))
        assert p.data is array and p.data.dtype == dtype      # its own array, updated
        if flat.base is not None:                             # a view taken before sees it
            np.testing.assert_array_equal(flat, p.data.ravel(order="K"))

    check()


@pytest.mark.parametrize("route", ROUTES)
def test_sgd_update_with_a_gradient_overlapping_the_parameter(route, monkeypatch):
    """A gradient that is a view of the parameter's own memory, shifted: BLAS would read
    elements it has already written, so the update must not take that route."""
    _route(route, monkeypatch)
    memory = np.arange(1.0, 9.0, dtype=np.float32)
    p = Tensor(memory[2:], requires_grad=True)
    p.grad = Tensor(memory[:6])
    expected = memory[2:] - np.float32(0.5) * memory[:6]
    SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(p.data, expected)


@pytest.mark.parametrize("order", ["C", "F"])
def test_sgd_blas_route_is_taken_for_contiguous_float_parameters(order, monkeypatch):
    """Row-major, and column-major as nn.Linear stores its weight (and gets its gradient)."""
    pytest.importorskip("scipy", reason="the BLAS route needs scipy (the fast extra)")
    calls = []
    real = inplace._blas_axpy()[np.dtype(np.float32)]
    monkeypatch.setattr(inplace, "_blas_axpy", lambda: {np.dtype(np.float32): lambda *a, **k:
                                                      calls.append(1) or real(*a, **k)})
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = Tensor(np.array(w, order=order), requires_grad=True)
    p.grad = Tensor(np.array(w * 4, order=order))
    SGD([p], lr=0.25).step()
    assert calls == [1]
    np.testing.assert_array_equal(p.data, np.zeros((3, 4), np.float32))


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


def test_parameters_must_be_leaf_tensors():
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


# ---- issue 15: all or nothing, versions, frozen parameters, hyper-parameters as arrays ----

def two_params_second_grad(grad):
    """Parameter 0 has a good gradient, parameter 1 the given one."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0, 5.0])
    a.grad = Tensor(np.array([1.0, 1.0]))
    b.grad = grad
    return a, b


OPTIMISERS = [lambda ps: SGD(ps, lr=0.1), lambda ps: SGD(ps, lr=0.1, momentum=0.9),
              lambda ps: Adam(ps, lr=0.1)]


@pytest.mark.parametrize("make", OPTIMISERS)
@pytest.mark.parametrize("grad", [np.ones((3, 3)), np.ones(1), np.ones((1, 3))])
def test_trust_13_step_with_a_wrong_shape_grad_changes_nothing(make, grad):
    a, b = two_params_second_grad(Tensor(grad))
    opt = make([a, b])
    name = type(opt).__name__
    with pytest.raises(ShapeError, match=(
            rf"^{name}.step: parameter 1 \(shape \(3,\)\) has a gradient of shape "
            rf"{re.escape(str(grad.shape))}; .* nothing was updated")):
        opt.step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0])
    np.testing.assert_array_equal(b.data, [3.0, 4.0, 5.0])
    assert opt.state == {}


def test_trust_13_step_error_names_the_parameter():
    layer = Linear(2, 3, rng=0)
    net = Sequential(layer)
    opt = SGD(net.parameters(), lr=0.1)
    for p in net.parameters():
        p.grad = Tensor(np.zeros(p.shape, dtype=np.float32))
    layer.bias.grad = Tensor(np.zeros((3, 1), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"SGD.step: parameter 1 \('0.bias', shape \(3,\)\) "
                                         r"has a gradient of shape \(3, 1\)"):
        opt.step()


@pytest.mark.parametrize("make", OPTIMISERS)
def test_trust_13_step_with_a_complex_grad_changes_nothing(make):
    a, b = two_params_second_grad(Tensor(np.ones(3, dtype=np.complex128)))
    opt = make([a, b])
    with pytest.raises(DtypeError, match=r"parameter 1 \(shape \(3,\)\) has a gradient of "
                                         r"dtype complex128.* float64; nothing was updated"):
        opt.step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0])


@pytest.mark.parametrize("make", OPTIMISERS)
def test_trust_13_step_with_a_grad_that_is_not_a_tensor_changes_nothing(make):
    a, b = two_params_second_grad(np.ones(3))
    opt = make([a, b])
    with pytest.raises(TypeError, match=r"parameter 1 \(shape \(3,\)\) has a \.grad of type "
                                        r"ndarray, not a Tensor; nothing was updated"):
        opt.step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0])


def test_trust_13_step_with_a_read_only_parameter_changes_nothing():
    a = leaf([1.0, 2.0])
    frozen = np.array([3.0, 4.0])
    frozen.flags.writeable = False
    b = Tensor(frozen, requires_grad=True)
    a.grad, b.grad = Tensor([1.0, 1.0]), Tensor([1.0, 1.0])
    with pytest.raises(ValueError, match=r"parameter 1 \(shape \(2,\)\) holds a read-only "
                                         r"array; .* nothing was updated"):
        SGD([a, b], lr=0.1).step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0])


@given(w=arrays((3,)), g1=arrays((3,)), g2=arrays((3,)))
def test_trust_13_momentum_buffer_takes_the_parameter_dtype(w, g1, g2):
    """An integer or float64 gradient on a float32 parameter: buffers stay float32."""
    p = Tensor(w.astype(np.float32), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.5)
    p.grad = Tensor(np.round(g1).astype(np.int64))
    opt.step()
    p.grad = Tensor(g2)
    opt.step()
    assert opt.state[id(p)]["momentum_buffer"].dtype == np.float32
    buf = 0.5 * np.round(g1) + g2
    expected = w - 0.1 * np.round(g1) - 0.1 * buf
    np.testing.assert_allclose(p.data, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", OPTIMISERS)
def test_trust_02_step_bumps_the_version_of_each_updated_parameter(make):
    a, b = leaf([1.0, 2.0]), leaf([3.0])
    opt = make([a, b])
    before = function.version(a.data), function.version(b.data)
    a.grad = Tensor([1.0, 1.0])
    opt.step()
    assert function.version(a.data) == before[0] + 1
    assert function.version(b.data) == before[1]  # no gradient: not written


@pytest.mark.parametrize("make", OPTIMISERS)
def test_trust_04_optimisers_accept_and_skip_frozen_parameters(make):
    w, frozen, counts = leaf([1.0, 2.0]), Tensor([5.0, 6.0]), Tensor(np.arange(3))
    opt = make([w, frozen, counts])
    (w * frozen).sum().backward()
    opt.step()
    assert not np.array_equal(w.data, [1.0, 2.0])
    np.testing.assert_array_equal(frozen.data, [5.0, 6.0])
    np.testing.assert_array_equal(counts.data, [0, 1, 2])


def test_trust_04_a_model_with_a_frozen_layer_trains_the_rest():
    first, second = Linear(2, 2, rng=0), Linear(2, 1, rng=1)
    net = Sequential(first, second)
    for p in first.parameters():
        p.requires_grad = False
    before = first.weight.data.copy(), second.weight.data.copy()
    opt = SGD([*first.parameters(), *second.parameters()], lr=0.1)
    net(Tensor(np.ones((4, 2), dtype=np.float32))).sum().backward()
    opt.step()
    np.testing.assert_array_equal(first.weight.data, before[0])
    assert not np.array_equal(second.weight.data, before[1])


def test_trust_04_a_frozen_integer_parameter_with_a_float_grad_is_an_error():
    counts = Tensor(np.arange(3))
    counts.grad = Tensor(np.ones(3))
    with pytest.raises(DtypeError, match=r"gradient of dtype float64, which cannot be cast "
                                         r"to the parameter's dtype int64"):
        SGD([counts], lr=0.1).step()


@pytest.mark.parametrize("lr", [np.array(0.25), np.float32(0.25), np.array([0.25]),
                                Tensor(0.25), Tensor([0.25]),
                                Tensor(0.25, requires_grad=True)])
def test_trust_15_lr_as_a_0d_array_or_a_one_element_tensor_is_its_value(lr):
    for make in (lambda ps: SGD(ps, lr=lr), lambda ps: Adam(ps, lr=lr)):
        p = leaf([1.0])
        opt = make([p])
        assert type(opt.lr) is float and opt.lr == 0.25
    p = leaf([1.0])
    opt = SGD([p], lr=0.1)
    opt.lr = lr                                # set later, as a schedule would
    p.grad = Tensor([1.0])
    opt.step()
    np.testing.assert_allclose(p.data, [0.75])


@pytest.mark.parametrize(("make", "value"), [
    (lambda v, ps: SGD(ps, lr=0.1, momentum=v), 0.5),
    (lambda v, ps: SGD(ps, lr=0.1, momentum=0.5, dampening=v), 0.5),
    (lambda v, ps: SGD(ps, lr=0.1, weight_decay=v), 0.5),
    (lambda v, ps: Adam(ps, eps=v), 0.5),
    (lambda v, ps: Adam(ps, weight_decay=v), 0.5),
    (lambda v, ps: Adam(ps, betas=(v, 0.9)), 0.5),
])
@pytest.mark.parametrize("wrap", [np.array, Tensor])
def test_trust_15_other_hyperparameters_take_0d_arrays_and_tensors(make, value, wrap):
    opt = make(wrap(value), [leaf([1.0])])
    stored = [v for v in vars(opt).values() if isinstance(v, float) and v == value]
    stored += [b for b in getattr(opt, "betas", ()) if b == value]
    assert stored and all(type(v) is float for v in stored)


def test_trust_15_betas_as_an_array_or_tensor_of_two():
    for betas in (np.array([0.8, 0.9]), Tensor([0.8, 0.9], dtype=np.float64)):
        assert Adam([leaf([1.0])], betas=betas).betas == (0.8, 0.9)


def test_trust_15_schedule_sizes_take_0d_integer_arrays():
    opt = SGD([leaf([0.0])], lr=1.0)
    assert StepLR(opt, np.array(2)).step_size == 2
    assert CosineLR(opt, total_steps=Tensor(np.array(4))).total_steps == 4


@pytest.mark.parametrize(("make", "message"), [
    (lambda ps: SGD(ps, lr=np.array([0.1, 0.2])),
     r"SGD: lr must be a number, got an array of shape \(2,\)"),
    (lambda ps: SGD(ps, lr=Tensor([[0.1, 0.2]])),
     r"SGD: lr must be a number, got a Tensor of shape \(1, 2\)"),
    (lambda ps: SGD(ps, lr=np.array(True)), r"SGD: lr must be >= 0.0, got True"),
    (lambda ps: SGD(ps, lr=Tensor(-0.5)), r"SGD: lr must be >= 0.0, got -0.5"),
    (lambda ps: SGD(ps, lr=float("inf")), r"SGD: lr must be finite, got inf"),
    (lambda ps: SGD(ps, lr=np.array(np.nan)), r"SGD: lr must be finite, got nan"),
    (lambda ps: Adam(ps, eps=np.array([1e-8, 1e-8])), r"Adam: eps must be a number"),
    (lambda ps: Adam(ps, betas=np.array([0.9, 0.9, 0.9])), r"Adam: betas must be a pair"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov="no"),
     r"SGD: nesterov must be True or False, got 'no'"),
    (lambda ps: StepLR(SGD(ps, lr=0.1), np.array([2, 3])),
     r"StepLR: step_size must be a positive int, got an array of shape \(2,\)"),
])
def test_trust_15_hyperparameters_that_are_not_one_number_are_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make([leaf([1.0])])


def test_trust_15_setting_a_bad_lr_later_is_an_error_and_keeps_the_old_lr():
    opt = SGD([leaf([1.0])], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD: lr must be a number, got an array of shape"):
        opt.lr = np.ones(3)
    assert opt.lr == 0.1


@pytest.mark.parametrize("make", OPTIMISERS)
def test_trust_02_backward_through_a_graph_recorded_before_step_raises(make):
    """Issue 15's example: l2 was recorded with the weights step() has since changed."""
    w = leaf([1.0, 2.0])
    opt = make([w])
    l1, l2 = (w * w).sum(), (w ** 3).sum()
    l1.backward()
    opt.step()
    opt.zero_grad()
    with pytest.raises(GraphError, match=r"Pow .*modified by an in-place operation"):
        l2.backward()


# ---- state_dict / load_state_dict (issue 16, item 5) ---------------------------------------

def two_params(seed: int = 0) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [leaf(rng.standard_normal((3, 2))), leaf(rng.standard_normal(2))]


def gradient_steps(seed: int, count: int) -> list:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal((3, 2)), rng.standard_normal(2)] for _ in range(count)]


MAKERS = {
    "adam": lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), weight_decay=0.01),
    "sgd": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
@given(before=st.integers(0, 3), after=st.integers(1, 3))
def test_first_05_a_loaded_state_continues_as_the_uninterrupted_run(kind, before, after):
    grads = gradient_steps(1, before + after)
    params = two_params()
    whole = MAKERS[kind](params)
    run_steps(whole, params, grads)

    first = two_params()
    opt = MAKERS[kind](first)
    run_steps(opt, first, grads[:before])
    saved = opt.state_dict()
    resumed_params = [leaf(p.data.copy()) for p in first]
    resumed = Adam(resumed_params) if kind == "adam" else SGD(resumed_params, lr=1.0)
    resumed.load_state_dict(saved)               # other hyper-parameters: the saved ones win
    run_steps(resumed, resumed_params, grads[before:])
    for a, b in zip(params, resumed_params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    assert repr(resumed) == repr(whole)


def test_first_05_state_dict_is_pytorchs_layout_with_numpy_copies():
    params = two_params()
    opt = Adam(params, lr=0.01)
    run_steps(opt, params, gradient_steps(2, 2))
    state = opt.state_dict()
    assert state["param_groups"] == [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8,
                                      "weight_decay": 0.0, "params": [0, 1]}]
    assert sorted(state["state"]) == [0, 1]
    entry = state["state"][1]
    assert sorted(entry) == ["exp_avg", "exp_avg_sq", "step"]
    assert all(isinstance(v, np.ndarray) for v in entry.values()) and int(entry["step"]) == 2
    entry["exp_avg"][:] = 99.0                   # a snapshot: the optimiser keeps its own
    assert not (opt.state[id(params[1])]["exp_avg"] == 99.0).any()
    assert SGD(params, lr=0.1).state_dict()["state"] == {}


def test_first_05_optimizers_have_a_repr():
    params = two_params()
    assert repr(Adam(params, lr=0.01)) == ("Adam(2 parameters, lr=0.01, betas=(0.9, 0.999), "
                                           "eps=1e-08, weight_decay=0.0)")
    assert repr(SGD(params[:1], lr=0.1, momentum=0.9)) == (
        "SGD(1 parameter, lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, "
        "weight_decay=0.0)")


def bad_states():
    params = two_params()
    opt = Adam(params, lr=0.01)
    run_steps(opt, params, gradient_steps(3, 1))
    good = opt.state_dict()

    def changed(**parts):
        return {**good, **parts}

    group = good["param_groups"][0]
    sgd = SGD(params, lr=0.1, momentum=0.9)
    run_steps(sgd, params, gradient_steps(3, 1))
    return [
        ("count", changed(param_groups=[{**group, "params": [0]}]),
         r"the state is for 1 parameters, this optimiser has 2"),
        ("shape", changed(state={0: good["state"][0], 1: {
            **good["state"][1], "exp_avg_sq": np.zeros(3)}}),
         r"exp_avg_sq of parameter 1 \(shape \(2,\)\) has shape \(3,\)"),
        ("kind", sgd.state_dict(),
         r"do not fit Adam \(lr, betas, eps, weight_decay\): unexpected \['dampening', "
         r"'momentum', 'nesterov'\], missing \['betas', 'eps'\]"),
        ("value", changed(param_groups=[{**group, "lr": -1.0}]),
         r"Adam.load_state_dict: Adam: lr must be >= 0.0, got -1.0"),
        ("index", changed(state={**good["state"], 5: good["state"][0]}),
         r"state for parameter 5, but this optimiser has parameters 0..1"),
        ("entries", changed(state={0: {"momentum_buffer": np.zeros((3, 2))}}),
         r"parameter 0 \(shape \(3, 2\)\) has entries \['momentum_buffer'\]; Adam keeps"),
        ("step", changed(state={0: {**good["state"][0], "step": np.array(-1)}}),
         r"the step count of parameter 0 \(shape \(3, 2\)\) must be an int >= 0"),
        ("layout", {"state": {}}, r"the dict lacks \['param_groups'\]"),
    ]


@pytest.mark.parametrize(("what", "state", "message"), bad_states(), ids=lambda v: v
                         if isinstance(v, str) and " " not in v else "")
def test_first_05_load_state_dict_checks_the_fit_and_changes_nothing(what, state, message):
    from tinygrad_edu.nn import StateDictError

    params = two_params(5)
    opt = Adam(params, lr=0.5, weight_decay=0.1)
    run_steps(opt, params, gradient_steps(4, 2))
    before_state, before_repr = opt.state_dict(), repr(opt)
    with pytest.raises(StateDictError, match=message):
        opt.load_state_dict(state)
    assert repr(opt) == before_repr
    after = opt.state_dict()
    for i in before_state["state"]:
        for name, value in before_state["state"][i].items():
            np.testing.assert_array_equal(after["state"][i][name], value)


def test_first_05_load_state_dict_refuses_a_non_dict():
    with pytest.raises(TypeError, match="SGD.load_state_dict: expected the dict "
                                        "optimizer.state_dict\\(\\) returns, got list"):
        SGD(two_params(), lr=0.1).load_state_dict([])


def test_first_05_loading_optimizer_state_writes_no_parameter():
    params = two_params()
    opt = SGD(params, lr=0.1, momentum=0.9)
    run_steps(opt, params, gradient_steps(6, 1))
    versions = [function.version(p.data) for p in params]
    values = [p.data.copy() for p in params]
    SGD(params, lr=0.1).load_state_dict(opt.state_dict())
    assert [function.version(p.data) for p in params] == versions
    for p, v in zip(params, values, strict=True):
        np.testing.assert_array_equal(p.data, v)


def test_first_05_state_arrays_take_the_parameters_dtype():
    p32 = Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = Adam([p32])
    opt.load_state_dict({"state": {"0": {"step": 3, "exp_avg": np.ones(2),
                                         "exp_avg_sq": np.ones(2)}},
                         "param_groups": [{"lr": 0.1, "betas": [0.9, 0.999], "eps": 1e-8,
                                           "weight_decay": 0.0, "params": [0]}]})
    assert opt.state[id(p32)]["exp_avg"].dtype == np.float32 and opt.betas == (0.9, 0.999)
    p32.grad = Tensor(np.ones(2, np.float32))
    opt.step()
    assert opt.state[id(p32)]["step"] == 4 and p32.data.dtype == np.float32
