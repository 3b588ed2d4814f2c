"""Qt views of Backprop Explorer. Imports ``graph`` and ``nets``; never the other way round."""
