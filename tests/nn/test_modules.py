"""Module, Linear, Sequential and the activation layers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, no_grad
from tinygrad_edu.function import state
from tinygrad_edu.nn import (
    Flatten,
    Linear,
    LogSoftmax,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    StateDictError,
    Tanh,
)
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import check_grad
from tinygrad_edu.testing.strategies import arrays, layer_sizes


def mlp(sizes, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [Linear(n_in, n_out, rng=rng, bias_init="uniform", dtype=dtype), ReLU()]
    return Sequential(*layers[:-1])


# ---- Linear ------------------------------------------------------------------------------

@given(sizes=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 5)),
       data=st.data())
def test_linear_computes_x_at_w_transposed_plus_b(sizes, data):
    n_in, n_out, batch = sizes
    layer = Linear(n_in, n_out, rng=0, bias_init="uniform", dtype=np.float64)
    x = data.draw(arrays((batch, n_in)))
    expected = x @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(layer(Tensor(x)).data, expected, rtol=1e-12)


def test_linear_stores_weight_as_out_by_in_like_pytorch():
    layer = Linear(784, 10, rng=0)
    assert layer.weight.shape == (10, 784) and layer.bias.shape == (10,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad


def test_linear_without_bias_has_only_a_weight():
    layer = Linear(3, 2, bias=False, rng=0)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = np.ones((4, 3), dtype=np.float32)
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ layer.weight.data.T)


@given(data=st.data())
def test_linear_grads_match_numerical(data):
    n_in, n_out = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    layer = Linear(n_in, n_out, rng=1, bias_init="uniform", dtype=np.float64)
    x = data.draw(arrays((3, n_in)))
    check_grad(lambda xx, w, b: xx @ w.T + b, x, layer.weight.data, layer.bias.data)


def test_linear_backward_gives_the_textbook_gradients():
    """dW = dY^T X and db = sum of dY over samples (rows-as-samples layout)."""
    rng = np.random.default_rng(3)
    layer = Linear(5, 3, rng=rng, dtype=np.float64)
    x, dy = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    layer(Tensor(x)).backward(dy)
    np.testing.assert_allclose(layer.weight.grad.data, dy.T @ x, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.data, dy.sum(axis=0), rtol=1e-12)


def test_linear_same_seed_same_weights():
    a, b = Linear(20, 7, rng=42), Linear(20, 7, rng=42)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(a.weight.data, Linear(20, 7, rng=43).weight.data)


def test_linear_accepts_an_initializer_function():
    layer = Linear(3, 2, init=lambda shape, rng: np.full(shape, 0.5), rng=0)
    np.testing.assert_array_equal(layer.weight.data, np.full((2, 3), 0.5, np.float32))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_linear_rejects_a_bad_size(bad):
    with pytest.raises(ValueError, match="Linear: in_features must be a positive int"):
        Linear(bad, 3)


def test_linear_rejects_an_initializer_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"weight initialiser returned shape \(3,\), "
                                         r"expected \(2, 3\)"):
        Linear(3, 2, init=lambda shape, rng: np.zeros(3))


def test_linear_rejects_an_unknown_initializer_name():
    with pytest.raises(ValueError, match="unknown initialiser 'he'"):
        Linear(3, 2, init="he")


# ---- names, walking, modes ---------------------------------------------------------------

class TwoLayer(Module):
    def __init__(self):
        self.layers = Sequential(Linear(4, 3, rng=0), ReLU(), Linear(3, 2, rng=1))
        self.scale = Tensor([1.0], requires_grad=True)
        self.constant = Tensor([5.0])            # no requires_grad: not a parameter

    def forward(self, x):
        return self.layers(x) * self.scale


def test_named_parameters_use_dotted_paths():
    names = [name for name, _ in TwoLayer().named_parameters()]
    # a module's own parameters first, then each sub-module's (as PyTorch orders them)
    assert names == ["scale", "layers.0.weight", "layers.0.bias", "layers.2.weight",
                     "layers.2.bias"]


def test_named_parameters_name_unnamed_tensors_and_keep_given_names():
    model = TwoLayer()
    model.layers[0].bias.name = "b1"
    named = dict(model.named_parameters())
    assert named["layers.0.weight"].name == "layers.0.weight"
    assert named["layers.0.bias"].name == "b1"


def test_parameters_lists_a_shared_parameter_once():
    shared = Linear(3, 3, rng=0)
    net = Sequential(shared, ReLU(), shared)
    assert len(list(net.parameters())) == 2
    assert [name for name, _ in net.named_modules()] == ["", "0", "1"]


def test_named_modules_lists_every_module_depth_first():
    names = [name for name, _ in TwoLayer().named_modules()]
    assert names == ["", "layers", "layers.0", "layers.1", "layers.2"]


def test_train_and_eval_set_the_flag_everywhere():
    model = TwoLayer()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_sets_every_grad_to_none():
    model = TwoLayer()
    F.cross_entropy(model(Tensor(np.ones((2, 4)))), [0, 1]).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        Module()(Tensor([1.0]))


# ---- the running module is recorded on graph nodes ----------------------------------------

def test_call_records_the_innermost_module_on_each_node():
    net = Sequential(Linear(2, 3, rng=0), ReLU())
    out = net(Tensor(np.ones((1, 2)), requires_grad=True))
    assert out.grad_fn.module is net[1]                     # relu's node
    add_node = out.grad_fn.inputs[0].grad_fn                # x @ W.T + b
    assert add_node.module is net[0]
    assert state.module is None                             # restored after the call


def test_call_restores_the_module_after_an_error():
    class Broken(Module):
        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        Sequential(Broken())(Tensor([1.0]))
    assert state.module is None


def test_ops_outside_a_module_record_no_module():
    x = Tensor([1.0], requires_grad=True)
    assert (x * 2).grad_fn.module is None


# ---- Sequential and activations ---------------------------------------------------------

def test_sequential_feeds_each_output_to_the_next_layer():
    net = Sequential(Linear(3, 4, rng=0), Tanh(), Linear(4, 2, rng=1), Sigmoid())
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    h = np.tanh(x @ net[0].weight.data.T + net[0].bias.data)
    z = h @ net[2].weight.data.T + net[2].bias.data
    np.testing.assert_allclose(net(Tensor(x)).data, 1 / (1 + np.exp(-z)), rtol=1e-5)


def test_sequential_indexing_and_slicing():
    net = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    assert len(net) == 3 and isinstance(net[-1], Linear)
    head = net[:2]
    assert isinstance(head, Sequential) and len(head) == 2 and head[0] is net[0]
    assert list(net) == [net[0], net[1], net[2]]


def test_sequential_rejects_a_non_module():
    with pytest.raises(TypeError, match="layer 1 is a function, not a Module"):
        Sequential(ReLU(), lambda x: x)


@given(x=arrays((3, 4)))
def test_softmax_and_log_softmax_layers_agree(x):
    with no_grad():
        np.testing.assert_allclose(np.log(Softmax(dim=1)(Tensor(x)).data),
                                   LogSoftmax(dim=1)(Tensor(x)).data, atol=1e-10)


def test_flatten_merges_all_but_the_batch_dim():
    assert Flatten()(Tensor(np.zeros((5, 28, 28)))).shape == (5, 784)
    assert Flatten(0)(Tensor(np.zeros((5, 28, 28)))).shape == (5 * 784,)


def test_repr_shows_the_layers():
    text = repr(Sequential(Linear(784, 10), ReLU()))
    assert text == ("Sequential(\n  (0): Linear(in_features=784, out_features=10, bias=True)\n"
                    "  (1): ReLU()\n)")


# ---- state dicts -------------------------------------------------------------------------

@given(sizes=layer_sizes(min_layers=1, max_layers=3))
def test_state_dict_round_trip_restores_the_outputs(sizes):
    source, target = mlp(sizes, seed=0), mlp(sizes, seed=1)
    x = Tensor(np.random.default_rng(2).standard_normal((3, sizes[0])))
    target.load_state_dict(source.state_dict())
    np.testing.assert_array_equal(target(x).data, source(x).data)


def test_state_dict_is_a_copy():
    layer = Linear(2, 2, rng=0)
    saved = layer.state_dict()
    layer.weight.data += 1.0
    assert not np.array_equal(saved["weight"], layer.weight.data)


def test_load_state_dict_copies_in_place():
    """An optimiser holds the parameter Tensors: loading must not replace them."""
    layer = Linear(2, 2, rng=0)
    weight_array = layer.weight.data
    layer.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})
    assert layer.weight.data is weight_array
    np.testing.assert_array_equal(weight_array, np.ones((2, 2)))


def test_load_state_dict_lists_every_difference():
    model = Sequential(Linear(4, 3), ReLU(), Linear(3, 2))
    state_dict = model.state_dict()
    del state_dict["0.bias"]
    state_dict["2.weight"] = np.zeros((5, 3))
    state_dict["extra.weight"] = np.zeros(1)
    with pytest.raises(StateDictError) as info:
        model.load_state_dict(state_dict)
    message = str(info.value)
    assert "missing (in the model, not in the state dict): 0.bias" in message
    assert "unexpected (in the state dict, not in the model): extra.weight" in message
    assert "2.weight: checkpoint (5, 3), model (2, 3)" in message


def test_load_state_dict_failure_loads_nothing():
    model = Sequential(Linear(2, 2, rng=0))
    before = model.state_dict()
    bad = {"0.weight": np.ones((2, 2)), "0.bias": np.ones(3)}
    with pytest.raises(StateDictError, match="shape mismatch"):
        model.load_state_dict(bad)
    np.testing.assert_array_equal(model[0].weight.data, before["0.weight"])


def test_load_state_dict_non_strict_reports_and_skips():
    model = Sequential(Linear(2, 2, rng=0))
    result = model.load_state_dict({"0.weight": np.ones((2, 2)), "other": np.ones(1)},
                                   strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(model[0].weight.data, np.ones((2, 2)))


def test_load_state_dict_non_strict_still_rejects_a_shape_mismatch():
    with pytest.raises(StateDictError, match=r"0.weight: checkpoint \(3, 2\), model \(2, 2\)"):
        Sequential(Linear(2, 2)).load_state_dict({"0.weight": np.ones((3, 2))}, strict=False)


def test_training_a_module_lowers_the_loss():
    """End to end: modules + cross_entropy + backward + a hand-written SGD step."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    net = Sequential(Linear(5, 8, rng=rng), ReLU(), Linear(8, 2, rng=rng))
    losses = []
    for _ in range(30):
        net.zero_grad()
        loss = F.cross_entropy(net(Tensor(x)), y)
        loss.backward()
        losses.append(loss.item())
        for p in net.parameters():
            p.data -= 0.5 * p.grad.data
    assert losses[-1] < 0.5 * losses[0]
