"""A PyTorch CNN to design, train and test (the seed's Task 5); torch loads lazily.

Modules: ``arch`` (layer specs, validate, JSON), ``presets``, ``config`` (TrainConfig),
``model`` (build_model, to_pytorch_source), ``train`` (the training generator),
``trained`` (TrainedCnn, evaluate, predict), ``checkpoint`` (.pt files).
Importing any of them does not import torch.
"""
