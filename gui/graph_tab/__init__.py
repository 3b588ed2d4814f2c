"""The Graph tab: a node editor for scalar graphs where you step through backprop.

The engine's ``graph.model.Graph`` is the only source of truth; everything here follows it.

- ``bridge``: the one place where engine events become Qt signals.
- ``node_items``, ``edge_items``, ``scene``: what the canvas draws (created and removed
  only from the bridge's signals) and the mouse interactions that ask for edits.
- ``view``: zoom, pan, fit, palette drops, the add-node and node menus.
- ``commands``, ``editor``: every edit as a QUndoCommand calling a model method.
- ``palette``, ``add_menu``, ``node_edit``, ``inline_edit``, ``output_choice``: adding
  nodes, double-click edits, the node menu, the output picker.
- ``stepping``, ``step_info``: the step actions and the explanation of the last step.
- ``inputs_panel``, ``gradcheck_panel``, ``practice``: the side panels.
- ``document``, ``autosave``, ``recovery``, ``banner``, ``program_dialog``, ``export``:
  files, crash recovery, program import and exports.
- ``theme``, ``numbers``: colours, fonts, number formatting, local derivatives.
- ``tab``: ``GraphTab``, which puts it all together (its widgets in ``tab_layout``, its
  actions and menus in ``tab_menus``).
"""
