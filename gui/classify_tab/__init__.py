"""The Classify tab: drop photos on a pretrained ImageNet model.

Split as the Graph tab is, into a view and controllers:

- ``view``: ``ClassifyView``, every widget laid out (no state, no workers); one module
  per widget beside it (``model_picker``, ``photo_view``, ``top_chart``, ``batch_table``,
  ``recent_strip``).
- ``models``, ``batch``, ``current``, ``marks``: the controllers (the current model; the
  table's images; the current image, its detail and heat-map; marks and the report
  export), each owning its state and its ``slots.WorkerSlot``.
- ``jobs``: the work that runs in worker threads (no widgets); ``backend``: the only
  place that talks to ``nets.pretrained``; ``imaging``, ``report``: pictures.
- ``tab``: ``ClassifyTab``, which wires them and owns actions, menus, drops and recents.

Nothing here imports torch at import.
"""
