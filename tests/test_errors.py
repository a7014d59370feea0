"""Every error path: the message names the op, the shapes (or dtypes) and the fix.

The table at the end also checks the rule for all of them at once: no bare numpy message.
"""

import numpy as np
import pytest

from tinygrad_edu import (
    AnomalyError,
    DimError,
    DtypeError,
    GraphError,
    ShapeError,
    Tensor,
    TinygradEduError,
    cat,
    grad,
    maximum,
    minimum,
    stack,
    where,
)
from tinygrad_edu.nn import functional as F


def _x(*shape):
    return Tensor(np.ones(shape), requires_grad=True)


# ---- exception types ------------------------------------------------------------------------


@pytest.mark.parametrize("error, builtin", [(ShapeError, ValueError), (DimError, IndexError),
                                            (DtypeError, TypeError), (GraphError, RuntimeError),
                                            (AnomalyError, FloatingPointError)])
def test_errors_are_tinygrad_errors_and_the_matching_builtin(error, builtin):
    assert issubclass(error, TinygradEduError) and issubclass(error, builtin)


# ---- shapes ---------------------------------------------------------------------------------


BROADCAST_FIX = r"do not broadcast: aligned from the right.*reshape an operand"


@pytest.mark.parametrize("name, op", [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
                                      ("mul", lambda a, b: a * b), ("div", lambda a, b: a / b),
                                      ("pow", lambda a, b: a ** b), ("maximum", maximum),
                                      ("minimum", minimum)])
def test_shapes_that_do_not_broadcast(name, op):
    with pytest.raises(ShapeError, match=rf"^{name}: shapes \(2, 3\) and \(4,\) {BROADCAST_FIX}"):
        op(_x(2, 3), _x(4))


def test_where_names_the_condition_shape_too():
    with pytest.raises(ShapeError, match=r"^where: condition, x and y of shapes \(4,\), \(2, 3\) "
                       r"and \(\) do not broadcast; reshape"):
        where(np.ones(4, dtype=bool), _x(2, 3), 0.0)


def test_matmul_inner_dimensions_differ():
    with pytest.raises(ShapeError, match=r"^matmul: \(2, 3\) @ \(4, 5\): inner dimensions 3 and "
                       r"4 differ; transpose or reshape one operand$"):
        _x(2, 3) @ _x(4, 5)


def test_matmul_of_a_matrix_and_a_vector_that_do_not_fit():
    with pytest.raises(ShapeError, match=r"^matmul: \(2, 3\) @ \(4,\): inner dimensions 3 and 4"):
        _x(2, 3) @ _x(4)


def test_matmul_batch_dimensions_do_not_broadcast():
    with pytest.raises(ShapeError, match=r"^matmul: \(2, 3, 4\) @ \(5, 4, 6\): batch dimensions "
                       r"\(2,\) and \(5,\) do not broadcast; reshape one operand$"):
        _x(2, 3, 4) @ _x(5, 4, 6)


def test_matmul_with_a_0d_operand_suggests_mul():
    with pytest.raises(ShapeError, match=r"^matmul: \(2, 3\) @ \(\): operands need at least one "
                       r"dim; use \* to multiply by a scalar$"):
        _x(2, 3) @ 2.0


def test_reshape_to_a_wrong_size():
    with pytest.raises(ShapeError, match=r"^reshape: cannot reshape a tensor of shape \(2, 3\) "
                       r"\(6 elements\) to \(4, 2\); the element counts must match"):
        _x(2, 3).reshape(4, 2)


def test_expand_minus_one_for_a_new_leading_dim():
    with pytest.raises(ShapeError, match=r"^expand: -1 in \(-1, 2, 3\) must stand for one of the "
                       r"2 dims of a tensor of shape \(2, 3\); give new leading dims a size$"):
        _x(2, 3).expand(-1, 2, 3)


def test_expand_to_a_shape_that_does_not_fit():
    with pytest.raises(ShapeError, match=r"^expand: cannot broadcast shape \(2, 3\) to \(3, 3\); "
                       r"dims must match or be 1"):
        _x(2, 3).expand(3, 3)


def test_cat_of_shapes_that_differ_outside_dim():
    with pytest.raises(ShapeError, match=r"^cat: shapes \[\(2, 3\), \(3, 3\)\] must match in "
                       r"every dim but dim 1$"):
        cat([_x(2, 3), _x(3, 3)], dim=1)


def test_stack_of_different_shapes():
    with pytest.raises(ShapeError, match=r"^stack: shapes \[\(2, 3\), \(3, 3\)\] must all be "
                       r"equal$"):
        stack([_x(2, 3), _x(3, 3)])


@pytest.mark.parametrize("join", [cat, stack], ids=["cat", "stack"])
def test_joining_nothing(join):
    with pytest.raises(ValueError, match=rf"^{join.__name__}: needs at least one tensor; pass a "
                       "non-empty list$"):
        join([])


def test_permute_dims_that_are_not_a_reordering():
    with pytest.raises(ShapeError, match=r"^permute: dims \(0, 0\) are not a reordering of the 2 "
                       r"dims of a tensor of shape \(2, 3\); name each of 0\.\.1 exactly once$"):
        _x(2, 3).permute(0, 0)


def test_max_and_min_over_an_empty_dim():
    with pytest.raises(ShapeError, match=r"^max: cannot reduce an empty tensor of shape \(0, 3\) "
                       r"over dims \(0, 1\); reduce over dims that have elements$"):
        Tensor(np.ones((0, 3))).max()
    with pytest.raises(ShapeError, match=r"^min: cannot reduce an empty tensor of shape \(0, 3\) "
                       r"over dims \(0,\);"):
        Tensor(np.ones((0, 3))).min(0)


# ---- dims -----------------------------------------------------------------------------------


DIM_FIX = r"is out of range for a tensor of shape \(2, 3\) \(ndim 2\); valid dims: \[-2, 1\]$"


@pytest.mark.parametrize("name, call", [
    ("sum", lambda t: t.sum(2)), ("sum", lambda t: t.sum((0, 2))), ("mean", lambda t: t.mean(2)),
    ("max", lambda t: t.max(2)), ("min", lambda t: t.min(2)), ("softmax", lambda t: t.softmax(2)),
    ("log_softmax", lambda t: t.log_softmax(2)), ("transpose", lambda t: t.transpose(0, 2)),
    ("permute", lambda t: t.permute(0, 2)), ("squeeze", lambda t: t.squeeze(2)),
    ("flatten", lambda t: t.flatten(2)), ("argmax", lambda t: t.argmax(2)),
    ("cat", lambda t: cat([t, t], dim=2)), ("sum", lambda t: t.sum(-3)),
])
def test_unknown_dim(name, call):
    with pytest.raises(DimError, match=rf"^{name}: dim -?\d+ {DIM_FIX}"):
        call(_x(2, 3))


def test_unknown_dim_for_the_ops_that_add_one():
    with pytest.raises(DimError, match=r"^unsqueeze: dim 4 is out of range .*valid dims: "
                       r"\[-3, 2\]$"):
        _x(2, 3).unsqueeze(4)
    with pytest.raises(DimError, match=r"^stack: dim 4 is out of range .*valid dims: "
                       r"\[-3, 2\]$"):
        stack([_x(2, 3), _x(2, 3)], dim=4)


def test_a_dim_named_twice():
    with pytest.raises(DimError, match=r"^sum: dim \(1, -1\) names a dim twice for a tensor of "
                       r"shape \(2, 3\); list each dim once$"):
        _x(2, 3).sum((1, -1))


def test_a_dim_that_is_not_an_int():
    with pytest.raises(TypeError, match=r"^sum: dim must be an int, got 1\.5$"):
        _x(2, 3).sum(1.5)


def test_softmax_of_a_0d_tensor_along_dim_1_suggests_dim_none():
    # dim 0 and -1 name the one element of a 0-d tensor, as in PyTorch; any other dim is wrong
    with pytest.raises(DimError, match=r"^softmax: dim 1 is out of range for a tensor of shape "
                       r"\(\).*a 0-d tensor has no dims"):
        Tensor(np.array(1.0)).softmax(1)


def test_flatten_with_start_after_end():
    with pytest.raises(DimError, match=r"^flatten: start_dim 1 comes after end_dim 0 for a tensor "
                       r"of shape \(2, 3\); swap them$"):
        _x(2, 3).flatten(1, 0)


# ---- indexing -------------------------------------------------------------------------------


@pytest.mark.parametrize("index, detail", [
    (5, r"index 5 is out of bounds for axis 0 with size 2"),
    ([0, 7], r"index 7 is out of bounds"),
    ((0, 0, 0), r"too many indices"),
    (np.array([True, False, True]), r"boolean index did not match"),
], ids=["int", "array", "too-many", "mask"])
def test_getitem_out_of_range(index, detail):
    with pytest.raises(IndexError, match=rf"^getitem: index .* does not fit a tensor of shape "
                       rf"\(2, 3\): {detail}"):
        _x(2, 3)[index]


def test_item_assignment_to_a_leaf_that_requires_grad_points_to_no_grad():
    with pytest.raises(GraphError, match=r"^setitem: a leaf tensor that requires grad \(shape "
                       r"\(2,\)\) is being updated in place .* `with no_grad\(\):`"):
        _x(2)[0] = 1.0


# ---- backward and grad ----------------------------------------------------------------------


def test_backward_of_a_non_scalar_without_gradient():
    with pytest.raises(GraphError, match=r"^backward: the output has shape \(2, 3\), not one "
                       r"element.*reduce it first \(loss\.sum\(\) or loss\.mean\(\)\) or pass "
                       r"gradient="):
        (_x(2, 3) * 2).backward()


def test_backward_with_a_gradient_of_the_wrong_shape():
    with pytest.raises(ShapeError, match=r"^backward: gradient has shape \(3, 2\) but the output "
                       r"has shape \(2, 3\); pass a gradient of the output's shape$"):
        (_x(2, 3) * 2).backward(np.ones((3, 2)))


def test_backward_twice_through_a_freed_graph():
    loss = (_x(2) * 2).sum()
    loss.backward()
    with pytest.raises(GraphError, match=r"^backward: the graph through Sum was freed by an "
                       r"earlier backward pass; call the first \.backward\(retain_graph=True\)"):
        loss.backward()


def test_backward_of_a_tensor_that_needs_no_grad():
    with pytest.raises(GraphError, match=r"^backward: this tensor \(shape \(\)\) does not require "
                       r"grad.*requires_grad=True"):
        Tensor([1.0, 2.0]).sum().backward()


def test_backward_through_a_tensor_made_under_no_grad_is_refused():
    from tinygrad_edu import no_grad

    x = _x(2)
    with no_grad():
        y = (x * 2).sum()
    with pytest.raises(GraphError, match="do not compute it under no_grad"):
        y.backward()


def test_grad_of_an_input_that_needs_no_grad():
    x = _x(2)
    with pytest.raises(GraphError, match=r"^grad: input 1 \(shape \(3,\)\) does not require grad; "
                       r"create it with requires_grad=True$"):
        grad((x * 2).sum(), [x, Tensor(np.ones(3))])


def test_grad_of_an_unused_input():
    x = _x(2)
    with pytest.raises(GraphError, match=r"^grad: input 1 \(shape \(3,\)\) is not used to compute "
                       r"the outputs; pass allow_unused=True"):
        grad((x * 2).sum(), [x, _x(3)])


# ---- dtypes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: Tensor(np.array([1, 2]), requires_grad=True),
    lambda: Tensor([1, 2], dtype=np.int32, requires_grad=True),
    lambda: Tensor(np.array([True]), requires_grad=True),
], ids=["int64", "int32", "bool"])
def test_requires_grad_on_a_non_float_tensor(make):
    with pytest.raises(DtypeError, match=r"^Tensor: requires_grad=True needs a floating dtype, "
                       r"got \w+; convert first, for example Tensor\(data, dtype=np\.float32"):
        make()


def test_requires_grad_underscore_on_an_integer_tensor():
    with pytest.raises(DtypeError, match=r"^requires_grad_: needs a floating dtype, got int64; "
                       r"convert first"):
        Tensor(np.array([1, 2])).requires_grad_()


def test_item_of_several_elements():
    with pytest.raises(ValueError, match=r"^item: only one-element tensors convert to a Python "
                       r"number, got shape \(2, 3\); reduce first"):
        _x(2, 3).item()


def test_truth_value_of_several_elements():
    with pytest.raises(ValueError, match=r"truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(_x(2))


# ---- losses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("labels", [[0, 3], [-1, 0]], ids=["too-big", "negative"])
def test_class_indices_out_of_range(loss, labels):
    name = loss.__name__
    with pytest.raises(ValueError, match=rf"^{name}: scores of shape \(2, 3\) have 3 classes "
                       r"along dim 1, so class indices must lie in \[0, 2\]; got values in"):
        loss(_x(2, 3), labels)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
@pytest.mark.parametrize(("scores", "labels", "message"), [
    ((2, 3, 4), [[0, 1, 2, 3], [0, 1, 2, 0]], r"\(2, 3, 4\) have 3 classes along dim 1"),
    ((3,), 3, r"\(3,\) have 3 classes along dim 0"),
], ids=["extra-dims", "one-sample"])
def test_class_index_past_the_last_class_is_worded_by_the_op(loss, scores, labels, message):
    """Only negative labels are checked before the op; a label of C or more fails the op's
    indexing, and the op words that error as the check would have."""
    low = np.min(labels)
    with pytest.raises(ValueError, match=rf"^{loss.__name__}: scores of shape {message}, so "
                       rf"class indices must lie in \[0, 2\]; got values in \[{low}, 3\]$"):
        loss(_x(*scores), labels)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
def test_class_indices_of_the_wrong_shape(loss):
    with pytest.raises(ShapeError, match=rf"^{loss.__name__}: scores of shape \(2, 3\) need class "
                       r"indices of shape \(2,\), got \(3,\); pass one integer label per sample"):
        loss(_x(2, 3), [0, 1, 2])


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("target", [np.array(0), np.array(0.5)], ids=["index", "probability"])
def test_losses_of_0d_scores(loss, target):
    with pytest.raises(ShapeError, match=rf"^{loss.__name__}: got 0-d scores; pass one score per "
                       r"class, shape \(C,\) for one sample or \(N, C\) for a batch$"):
        loss(Tensor(np.array(1.0)), target)


def test_cross_entropy_target_that_requires_grad():
    target = Tensor(np.array([0.2, 0.3, 0.5]), requires_grad=True)
    with pytest.raises(ValueError, match=r"^cross_entropy: the target \(shape \(3,\)\) requires "
                       r"grad, but the loss treats it as a constant; pass target.detach\(\)"):
        F.cross_entropy(_x(3), target)
    assert F.cross_entropy(_x(3), target.detach()).shape == ()


def test_cross_entropy_probabilities_of_the_wrong_shape():
    with pytest.raises(ShapeError, match=r"^cross_entropy: probability targets must have the "
                       r"logits' shape \(2, 3\), got \(2, 4\)"):
        F.cross_entropy(_x(2, 3), np.full((2, 4), 0.25))


def test_cross_entropy_float_class_indices_suggest_integers():
    with pytest.raises(ShapeError, match=r"got \(2,\); for class indices pass integers "
                       r"\(target\.astype\(np\.int64\)\)"):
        F.cross_entropy(_x(2, 3), np.array([0.0, 2.0]))


def test_cross_entropy_bool_targets():
    with pytest.raises(DtypeError, match=r"^cross_entropy: target must hold integer class indices "
                       r"or float probabilities, got dtype bool"):
        F.cross_entropy(_x(2, 3), np.array([True, False]))


def test_nll_loss_float_targets():
    with pytest.raises(DtypeError, match=r"^nll_loss: target must hold integer class indices, got "
                       r"dtype float64"):
        F.nll_loss(_x(2, 3), np.array([0.0, 1.0]))


@pytest.mark.parametrize("loss, target", [(F.cross_entropy, [0, 1]), (F.nll_loss, [0, 1]),
                                          (F.mse_loss, np.ones((2, 3)))],
                         ids=["cross_entropy", "nll_loss", "mse_loss"])
def test_unknown_reduction(loss, target):
    with pytest.raises(ValueError, match=rf"^{loss.__name__}: reduction must be one of \('mean', "
                       r"'sum', 'none'\), got 'avg'$"):
        loss(_x(2, 3), target, reduction="avg")


def test_mse_loss_refuses_to_broadcast():
    with pytest.raises(ShapeError, match=r"^mse_loss: input \(2, 3\) and target \(3,\) must have "
                       r"the same shape"):
        F.mse_loss(_x(2, 3), np.ones(3))


def test_one_hot_labels_out_of_range_and_not_integers():
    with pytest.raises(ValueError, match=r"^one_hot: labels must lie in \[0, 2\], got values in "
                       r"\[0, 5\]$"):
        F.one_hot([0, 5], num_classes=3)
    with pytest.raises(DtypeError, match=r"^one_hot: labels must be integers, got dtype float"):
        F.one_hot(np.array([0.0, 1.0]))


# ---- all at once: never a bare numpy message ------------------------------------------------


BAD_CALLS = {
    "add": lambda: _x(2, 3) + _x(4),
    "matmul": lambda: _x(2, 3) @ _x(4, 5),
    "reshape": lambda: _x(2, 3).reshape(5),
    "expand": lambda: _x(2, 3).expand(4, 3),
    "getitem": lambda: _x(2, 3)[2, 0],
    "sum": lambda: _x(2, 3).sum(3),
    "softmax": lambda: _x(2, 3).softmax(-3),
    "cat": lambda: cat([_x(2, 3), _x(2)]),
    "where": lambda: where(np.ones(5, dtype=bool), _x(2, 3), _x(2, 3)),
    "backward": lambda: _x(2, 3).exp().backward(np.ones(3)),
    "cross_entropy": lambda: F.cross_entropy(_x(2, 3), [3, 3]),
}


@pytest.mark.parametrize("op", BAD_CALLS)
def test_every_error_starts_with_the_op_and_names_a_shape(op):
    with pytest.raises(Exception) as info:
        BAD_CALLS[op]()
    message = str(info.value)
    assert message.startswith(f"{op}: ")
    assert "(2, 3)" in message
    assert isinstance(info.value, (TinygradEduError, IndexError, ValueError))
