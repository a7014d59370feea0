"""Document 003: the network of document 000, with the biases written as 10 x m matrices.

    Z1 = w1 A0 + b1,  A1 = ReLU(Z1),  Z2 = w2 A1 + b2,  A2 = softmax(Z2),  dZ2 = A2 - Y

The document lists b1 and b2 as "10 x m" matrices; it is one 10 x 1 vector per layer, copied
over the m columns. The engine says so with `expand` (or implicit broadcasting), and the
gradient of the shared vector is the sum of the gradients of its copies. 003-result (about
85% accuracy after 500 full-batch steps) is a training result, checked by the MNIST example.
"""

from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.testing import assert_grads_close

from .reference import ATOL, RTOL, draw_two_layer_net, leaves, numpy_forward, tensor_forward


@given(data=st.data())
def test_003_bias(data):
    """003-bias: "b^1 = Biases for the first layer (10 x m matrix)" is one vector, broadcast.

    With the summed loss, each column j of the expanded matrix B gets that sample's dZ[:, j];
    the vector b gets their sum over the m columns, which is m times the mean-loss gradient
    (1/m) sum dZ of documents 000 and 003.
    """
    net = draw_two_layer_net(data)
    ref = numpy_forward(net)
    dZ2 = ref.A2 - net.Y
    dZ1 = (net.W2.T @ dZ2) * (ref.Z1 > 0)

    W1, b1, W2, b2 = leaves([net.W1, net.b1, net.W2, net.b2])
    B1 = b1.expand(b1.shape[0], net.m)               # the document's 10 x m matrices
    B2 = b2.expand(b2.shape[0], net.m)
    B1.retain_grad()
    B2.retain_grad()
    A2 = (W2 @ (W1 @ Tensor(net.X) + B1).relu() + B2).softmax(dim=0)
    (-(Tensor(net.Y) * A2.log()).sum()).backward()   # summed loss: dZ2 = A2 - Y

    mean_b = leaves([net.W1, net.b1, net.W2, net.b2])
    tensor_forward(*mean_b, net.X, net.Y, "mean").loss.backward()   # b broadcast implicitly

    for name, b, B, dZ, b_mean in [("b1", b1, B1, dZ1, mean_b[1]), ("b2", b2, B2, dZ2, mean_b[3])]:
        assert_grads_close(B.grad, dZ, ATOL, RTOL, f"d loss / d {name} as a matrix")
        assert_grads_close(b.grad, dZ.sum(axis=1, keepdims=True), ATOL, RTOL,
                           f"d loss / d {name}: the sum over columns")
        assert_grads_close(b.grad, B.grad.data.sum(axis=1, keepdims=True), ATOL, RTOL,
                           f"d loss / d {name} vs its copies")
        assert_grads_close(b.grad, net.m * b_mean.grad.data, ATOL, RTOL,
                           f"d loss / d {name}: m times the mean form")
