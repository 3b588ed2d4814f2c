"""The homework's ``Classifier`` base class, for a homework folder without its own
``classifier.py`` (the starter code's file, which students do not change).

Only the child process that runs a user's code imports it, as the top-level module
``classifier``: ``from classifier import Classifier`` in their ``two_layer_net.py``.
"""

import numpy as np


class Classifier:
    """Subclasses implement ``parameters``, ``forward`` and ``backward``."""

    def parameters(self):
        """A dict of the model's parameter arrays (name -> array), updated in place."""
        raise NotImplementedError

    def forward(self, X):
        """X: (N, D) -> (scores (N, C), cache)."""
        raise NotImplementedError

    def backward(self, grad_scores, cache):
        """grad_scores: (N, C) -> dict of gradients with the keys of ``parameters()``."""
        raise NotImplementedError

    def predict(self, X):
        """X: (N, D) -> predicted labels (N,)."""
        scores, _ = self.forward(X)
        return np.argmax(scores, axis=1)
