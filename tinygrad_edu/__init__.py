"""tinygrad_edu: autograd on numpy, for seeing and trusting backpropagation."""
