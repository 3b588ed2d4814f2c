"""The "Two-layer net" tab (``MlpTab`` in ``gui.mlp_tab.tab``): the numpy TwoLayerNet
trained with live plots, runs compared, models tested once, saved, loaded and inspected.

Modules: ``data_panel`` (dataset picker), ``form`` (hyperparameters and presets),
``gradcheck_panel``, ``analysis`` (numpy helpers run in the worker), ``jobs`` (training,
test and checkpoint-load generators for the worker layer), ``run_record`` (what the tab
keeps per run), ``views`` (the result views), ``network_graph`` (the Network graph
page), ``tab`` (the tab itself).
"""
