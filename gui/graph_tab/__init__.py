"""The Graph tab: a node editor for scalar graphs where you step through backprop.

Modules: ``bridge`` (engine events to Qt signals), ``items`` and ``scene`` (what is drawn),
``view`` (zoom, pan, drops), ``commands`` (undoable edits), ``editor`` (edits from the
user, through the undo stack), ``palette`` and ``add_menu`` (adding nodes), side panels
(``inputs_panel``, ``gradcheck_panel``, ``practice``), ``stepping`` (the step toolbar),
``document`` and ``autosave`` (files), ``program_dialog``, ``export`` and ``tab``.
"""
