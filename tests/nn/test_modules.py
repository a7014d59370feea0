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
    ModuleDict,
    ModuleList,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    StateDictError,
    Tanh,
    UnregisteredWarning,
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


@pytest.mark.parametrize("name", ["weight", "bias"])
def test_linear_with_a_deleted_parameter_says_which(name):
    layer = Linear(3, 2, rng=0)
    delattr(layer, name)
    with pytest.raises(AttributeError, match=f"'Linear' object has no attribute '{name}'"):
        layer(Tensor(np.ones((1, 3), np.float32)))


def test_linear_sees_a_parameter_replaced_or_removed():
    layer = Linear(3, 2, rng=0)
    x = Tensor(np.ones((1, 3), np.float32))
    layer.weight = Parameter(np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(layer(x).data, layer.bias.data[None])
    layer.bias = None
    np.testing.assert_array_equal(layer(x).data, np.zeros((1, 2)))


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
    F.cross_entropy(model(Tensor(np.ones((2, 4), np.float32))), [0, 1]).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        Module()(Tensor([1.0]))


# ---- the running module is recorded on graph nodes ----------------------------------------

def test_call_records_the_innermost_module_on_each_node():
    net = Sequential(Linear(2, 3, rng=0), ReLU())
    out = net(Tensor(np.ones((1, 2), np.float32), requires_grad=True))
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


# ---- trust: what is registered, and loading all or nothing (issue 15) -------------------

def test_trust_04_state_dict_keeps_frozen_parameters():
    model = Sequential(Linear(3, 4, rng=0), ReLU(), Linear(4, 2, rng=1))
    for p in model[0].parameters():
        p.requires_grad_(False)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [name for name, _ in model.named_parameters()] == list(model.state_dict())


def test_trust_04_frozen_layer_survives_save_and_load(tmp_path):
    import tinygrad_edu
    from tinygrad_edu.optim import SGD

    def build(seed):
        return Sequential(Linear(3, 4, rng=seed), ReLU(), Linear(4, 2, rng=seed + 1))

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.integers(0, 2, 8)
    model = build(0)
    model[0].weight.requires_grad_(False)
    model[0].bias.requires_grad_(False)
    opt = SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(Tensor(x)), y).backward()
        opt.step()
    fresh = build(10)
    fresh.load_state_dict(tinygrad_edu.load(tinygrad_edu.save(model, tmp_path / "m.npz")))
    np.testing.assert_array_equal(fresh(Tensor(x)).data, model(Tensor(x)).data)


def test_trust_05_module_list_registers_its_layers():
    class Stack(Module):
        def __init__(self):
            self.layers = ModuleList([Linear(2, 3, rng=0), Linear(3, 1, rng=1)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    names = [name for name, _ in Stack().named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert list(Stack().state_dict()) == names


def test_trust_05_module_dict_registers_its_layers():
    class Heads(Module):
        def __init__(self):
            self.heads = ModuleDict({"digit": Linear(2, 10, rng=0), "parity": Linear(2, 2)})

    names = [name for name, _ in Heads().named_parameters()]
    assert names == ["heads.digit.weight", "heads.digit.bias", "heads.parity.weight",
                     "heads.parity.bias"]


def test_trust_05_a_plain_list_of_layers_warns():
    class ListNet(Module):
        def __init__(self):
            self.layers = [Linear(2, 3, rng=0), Linear(3, 1, rng=1)]

    with pytest.warns(UserWarning, match=r"ListNet\.layers is a list holding Modules.*"
                                         r"not registered.*nn\.ModuleList"):
        net = ListNet()
    assert list(net.parameters()) == []


def test_trust_05_an_activation_kept_for_later_is_not_a_parameter():
    class Keep(Module):
        def __init__(self):
            self.fc = Linear(2, 2, rng=0)

        def forward(self, x):
            self.hidden = self.fc(x).relu()       # kept for inspection, made by ops
            return self.hidden.sum()

    model = Keep()
    model(Tensor(np.ones((1, 2), np.float32))).backward()
    assert model.hidden.requires_grad and not model.hidden.is_leaf
    assert [name for name, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"]


def test_trust_05_parameter_marks_a_parameter_explicitly():
    class Gate(Module):
        def __init__(self):
            self.gate = Parameter(np.zeros(3, np.float32), requires_grad=False)
            self.constant = Tensor([5.0])            # a plain constant: not registered

    model = Gate()
    assert isinstance(model.gate, Tensor) and not model.gate.requires_grad
    assert [name for name, _ in model.named_parameters()] == ["gate"]
    assert list(model.state_dict()) == ["gate"]


def test_trust_05_buffers_are_saved_and_loaded_but_not_trained():
    class Norm(Module):
        def __init__(self):
            self.register_buffer("mean", np.zeros(2, np.float32))
            self.register_buffer("scratch", Tensor(np.ones(2)), persistent=False)

    model = Norm()
    assert list(model.parameters()) == []
    assert [name for name, _ in model.named_buffers()] == ["mean", "scratch"]
    assert list(model.state_dict()) == ["mean"]
    model.load_state_dict({"mean": np.array([1.0, 2.0])})
    np.testing.assert_array_equal(model.mean.data, np.array([1.0, 2.0], np.float32))


def test_trust_05_replacing_a_parameter_with_a_computed_tensor_raises():
    layer = Linear(2, 2, rng=0)
    layer(Tensor(np.ones((1, 2), np.float32))).sum().backward()
    weight = layer.weight
    with pytest.raises(TypeError, match=r"weight is a registered parameter.*"
                                        r"with no_grad\(\): model.weight -= lr \* "
                                        r"model.weight.grad.*nn.Parameter"):
        layer.weight = layer.weight - 0.1 * layer.weight.grad
    assert layer.weight is weight and list(layer.parameters())[0] is weight


def test_trust_13_load_state_dict_with_a_complex_entry_changes_nothing():
    model = Sequential(Linear(2, 2, rng=0))
    before = model[0].weight.data.copy()
    bad = {"0.weight": np.ones((2, 2)), "0.bias": np.ones(2, np.complex64)}
    with pytest.raises(StateDictError, match=r"0.bias: complex64 does not cast to float32"):
        model.load_state_dict(bad)
    np.testing.assert_array_equal(model[0].weight.data, before)


@pytest.mark.parametrize("value", [np.array(["a", "b"]), np.array([1.0, None], dtype=object)])
def test_trust_13_load_state_dict_rejects_strings_and_objects(value):
    model = Sequential(Linear(2, 2, rng=0))
    before = model[0].weight.data.copy()
    with pytest.raises(StateDictError, match=rf"0.bias: {value.dtype} does not cast"):
        model.load_state_dict({"0.weight": np.ones((2, 2)), "0.bias": value})
    np.testing.assert_array_equal(model[0].weight.data, before)


@given(data=st.data())
def test_trust_13_load_state_dict_loads_everything_or_nothing(data):
    """Whatever mix of dtypes and shapes a state dict holds, a load is complete or absent."""
    model = Sequential(Linear(2, 3, rng=0), ReLU(), Linear(3, 1, rng=1))
    before = model.state_dict()
    kinds = ["float64", "float32", "int64", "bool", "complex128", "str", "wrong shape"]
    state_dict, fits = {}, True
    for name, array in before.items():
        kind = data.draw(st.sampled_from(kinds), label=name)
        value = np.arange(array.size).reshape(array.shape) + 1
        if kind == "wrong shape":
            value = np.ones(array.size + 1)
        elif kind == "str":
            value = value.astype(str)
        else:
            value = value.astype(kind)
        fits &= kind not in ("complex128", "str", "wrong shape")
        state_dict[name] = value
    if fits:
        model.load_state_dict(state_dict)
        expected = {name: np.asarray(v, np.float32) for name, v in state_dict.items()}
    else:
        with pytest.raises(StateDictError, match="nothing was loaded"):
            model.load_state_dict(state_dict)
        expected = before
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, expected[name], err_msg=name)


def test_trust_13_load_state_dict_marks_the_tensors_written():
    from tinygrad_edu import function

    layer = Linear(2, 1, rng=0)
    versions = [function.version(p.data) for p in layer.parameters()]
    layer.load_state_dict(layer.state_dict())
    assert [function.version(p.data) for p in layer.parameters()] == [v + 1 for v in versions]


def test_load_state_dict_names_an_entry_that_is_not_an_array():
    layer = Linear(2, 1, rng=0)
    with pytest.raises(StateDictError, match=r"not an array: bias: .*inhomogeneous"):
        layer.load_state_dict({"weight": np.ones((1, 2)), "bias": [[1.0], [1.0, 2.0]]})


# ---- what a Module registers ------------------------------------------------------------

def test_trust_04_a_frozen_parameter_stays_in_parameters():
    layer = Linear(2, 2, rng=0)
    layer.weight.requires_grad_(False)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_a_frozen_parameter_may_be_assigned_to_itself():
    """`model.w -= x` under no_grad assigns the same tensor back: that is no replacement."""
    class Scale(Module):
        def __init__(self):
            self.factor = Tensor([2.0], requires_grad=True)

    model = Scale()
    factor = model.factor.requires_grad_(False)
    model.factor = factor
    assert list(model.parameters()) == [factor]


def test_assigning_none_to_a_parameter_keeps_the_name_registered():
    layer = Linear(2, 2, rng=0)
    layer.bias = None
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    layer.bias = Parameter(np.zeros(2, np.float32))
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]


def test_replacing_a_parameter_with_a_constant_raises():
    layer = Linear(2, 2, rng=0)
    with no_grad(), pytest.raises(TypeError, match="weight is a registered parameter and "
                                                   "cannot be replaced by a constant"):
        layer.weight = layer.weight - 1.0


def test_a_parameter_may_be_replaced_by_a_parameter():
    layer = Linear(2, 2, rng=0)
    layer.weight = Parameter(np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(layer.state_dict()["weight"], np.ones((2, 2)))


def test_parameter_shares_memory_and_shows_itself():
    values = np.zeros(2, np.float32)
    p = Parameter(values)
    assert p.data is values and p.requires_grad
    assert repr(p) == "Parameter containing:\nTensor([0., 0.], dtype=float32, requires_grad=True)"
    assert type(p * 2) is Tensor                        # ops make plain Tensors


def test_register_parameter_accepts_a_leaf_and_rejects_a_computed_tensor():
    module = Module()
    w = Tensor([1.0], requires_grad=True)
    module.register_parameter("w", w)
    assert module.w is w
    with pytest.raises(TypeError, match=r"register_parameter: 'v' is made by an op "
                                        r"\(grad_fn=Mul\).*nn.Parameter\(t.detach\(\)\)"):
        module.register_parameter("v", w * 2)
    with pytest.raises(TypeError, match="'u' must be a Tensor or None, got ndarray"):
        module.register_parameter("u", np.ones(2))


@pytest.mark.parametrize("name", ["", "a.b", "forward", "training"])
def test_register_rejects_a_bad_or_taken_name(name):
    with pytest.raises(KeyError, match="register_buffer: "):
        Module().register_buffer(name, np.ones(1))


def test_a_buffer_takes_new_values_by_assignment():
    module = Module()
    module.register_buffer("count", np.zeros(1, np.int64))
    module.count = np.array([3])
    assert isinstance(module.count, Tensor) and module.count.data[0] == 3
    assert list(module.state_dict()) == ["count"] and list(module.parameters()) == []
    with pytest.raises(TypeError, match="a buffer must be a Tensor, an ndarray or None"):
        module.count = 3


def test_deleting_a_registered_attribute_unregisters_it():
    layer = Linear(2, 2, rng=0)
    del layer.bias
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'bias'"):
        layer.bias  # noqa: B018


def test_a_sub_module_name_takes_only_a_module_or_none():
    model = TwoLayer()
    with pytest.raises(TypeError, match="TwoLayer.layers is a sub-module: assign a Module or "
                                        "None, not a int"):
        model.layers = 3


def test_a_plain_list_of_parameters_warns():
    class Weights(Module):
        def __init__(self):
            self.ws = [Tensor([1.0], requires_grad=True)]
            self.frozen = {"w": Parameter([1.0], requires_grad=False)}

    with pytest.warns(UnregisteredWarning) as record:
        Weights()
    assert [str(w.message).split(":")[0] for w in record] == [
        "Weights.ws is a list holding parameters", "Weights.frozen is a dict holding parameters"]
    assert "register_parameter(name, tensor)" in str(record[0].message)


def test_a_list_of_activations_is_not_a_warning():
    class Cache(Module):
        def __init__(self):
            x = Tensor([1.0], requires_grad=True)
            self.kept = [x * 2, Tensor([3.0])]

    assert list(Cache().parameters()) == []


def test_deepcopy_copies_the_parameters():
    import copy

    net = Sequential(Linear(2, 2, rng=0))
    twin = copy.deepcopy(net)
    assert isinstance(twin[0].weight, Parameter) and twin[0].weight is not net[0].weight
    np.testing.assert_array_equal(twin[0].weight.data, net[0].weight.data)
    assert list(twin.state_dict()) == ["0.weight", "0.bias"]


# ---- ModuleList, ModuleDict, and Sequential as a list ------------------------------------

def test_module_list_has_the_list_methods():
    a, b, c, d = (Linear(2, 2, rng=i) for i in range(4))
    layers = ModuleList([a])
    layers.append(b).extend([c])
    layers.insert(0, d)
    assert list(layers) == [d, a, b, c] and len(layers) == 4
    assert layers[-1] is c and isinstance(layers[1:3], ModuleList)
    assert list(layers[1:3]) == [a, b]
    layers[0] = b
    del layers[1]
    assert list(layers) == [b, b, c]
    layers += [d]
    assert layers.pop() is d and layers.pop(0) is b and list(layers) == [b, c]
    layers.insert(1, a)
    assert [name for name, _ in layers.named_children()] == ["0", "1", "2"]
    assert list(layers) == [b, a, c]
    assert [name for name, _ in layers.named_parameters()][-2:] == ["2.weight", "2.bias"]


def test_module_list_index_errors_name_the_size():
    layers = ModuleList([ReLU()])
    with pytest.raises(IndexError, match="ModuleList: index 3 is out of range for 1 layers"):
        layers[3]  # noqa: B018
    with pytest.raises(TypeError, match="ModuleList: layer 1 is a int, not a Module"):
        layers.append(4)
    with pytest.raises(TypeError, match="layer 2 is a str"):
        layers.extend([ReLU(), "relu"])
    assert len(layers) == 1                             # a failed extend changes nothing


def test_module_list_repr_shows_its_layers():
    assert repr(ModuleList([ReLU(), Tanh()])) == "ModuleList(\n  (0): ReLU()\n  (1): Tanh()\n)"


def test_module_dict_has_the_mapping_methods():
    a, b = Linear(2, 2, rng=0), ReLU()
    heads = ModuleDict([("a", a)])
    heads["b"] = b
    assert list(heads) == ["a", "b"] and heads.keys() == ["a", "b"] and len(heads) == 2
    assert heads.values() == [a, b] and heads.items() == [("a", a), ("b", b)]
    assert "a" in heads and heads.pop("a") is a and "a" not in heads
    heads.update({"c": a})
    del heads["b"]
    assert heads.keys() == ["c"]
    heads.clear()
    assert len(heads) == 0


def test_module_dict_errors_name_the_key():
    heads = ModuleDict({"a": ReLU()})
    with pytest.raises(KeyError, match=r"ModuleDict has no layer 'z'; its keys: \['a'\]"):
        heads["z"]  # noqa: B018
    with pytest.raises(KeyError, match="ModuleDict already has an attribute 'keys'"):
        heads["keys"] = ReLU()
    with pytest.raises(TypeError, match="ModuleDict: layer b is a int, not a Module"):
        heads.update({"c": ReLU(), "b": 3})
    assert heads.keys() == ["a"]


def test_sequential_append_insert_and_del_renumber():
    net = Sequential(Linear(2, 3, rng=0), ReLU())
    net.append(Linear(3, 1, rng=1))
    del net[1]
    assert [name for name, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.weight",
                                                            "1.bias"]
    assert net(Tensor(np.ones((1, 2), np.float32))).shape == (1, 1)
