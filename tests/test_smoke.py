import numpy as np

from tinygrad_edu import Tensor


def test_square_sum_grad_is_two_x():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, -4.0, 6.0])
