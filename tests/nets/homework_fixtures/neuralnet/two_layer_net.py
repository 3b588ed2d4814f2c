"""A correct solution of the seed's Task 3: a two-layer network from the modular layers.

`classifier.py` is the starter code's; the checker provides it (nets/homework/starter).
"""

import numpy as np
from classifier import Classifier
from layers import fc_backward, fc_forward, relu_backward, relu_forward


class TwoLayerNet(Classifier):
    def __init__(self, input_dim=3072, num_classes=10, hidden_dim=512, weight_scale=1e-3):
        self.W1 = weight_scale * np.random.randn(input_dim, hidden_dim)
        self.b1 = np.zeros(hidden_dim)
        self.W2 = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.b2 = np.zeros(num_classes)

    def parameters(self):
        params = {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}
        return params

    def forward(self, X):
        h, cache1 = fc_forward(X, self.W1, self.b1)
        a, cache2 = relu_forward(h)
        scores, cache3 = fc_forward(a, self.W2, self.b2)
        cache = (cache1, cache2, cache3)
        return scores, cache

    def backward(self, grad_scores, cache):
        cache1, cache2, cache3 = cache
        grad_a, grad_W2, grad_b2 = fc_backward(grad_scores, cache3)
        grad_h = relu_backward(grad_a, cache2)
        grad_X, grad_W1, grad_b1 = fc_backward(grad_h, cache1)
        grads = {"W1": grad_W1, "b1": grad_b1, "W2": grad_W2, "b2": grad_b2}
        return grads
