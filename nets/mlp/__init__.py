"""The from-scratch numpy network of the seed homework: layers, classifiers, training."""
