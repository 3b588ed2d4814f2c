"""Neural networks: from-scratch numpy layers and training, a PyTorch CNN, pretrained models.

Knows nothing of Qt, the GUI or ``graph``. torch is imported lazily, only inside the
functions that need it, so importing ``nets`` stays fast.
"""
