"""The "Two-layer net" tab (``MlpTab`` in ``gui.mlp_tab.tab``): the numpy TwoLayerNet
trained with live plots, runs compared, models tested once, saved, loaded and inspected.

Modules: ``data_panel`` (dataset picker), ``form`` (hyperparameters and presets),
``gradcheck_panel``, ``analysis`` (numpy helpers run in the worker), ``jobs`` (generator
helpers for the worker layer), ``tab`` (the tab itself).
"""
