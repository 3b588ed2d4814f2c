"""The CNN tab: design, train and test a PyTorch CNN (the seed's Task 5).

Modules: ``tab`` (CnnTab, the controller), ``arch_model`` (the edited layer list with
undo and its live summary), ``arch_editor`` (layer table, add/remove/reorder, parameter
form), ``data_panel`` (dataset and split), ``settings_panel`` (optimizer, schedule,
device...), ``fields`` (validated number fields), ``results_panel`` (test accuracy,
confusion matrix, sample predictions), ``jobs`` (the worker generators; no Qt).
Nothing here imports torch at import time.
"""
