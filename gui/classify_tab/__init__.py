"""The Classify tab: drop photos on a pretrained ImageNet model (issue 8).

``tab.ClassifyTab`` is the tab; the other modules are its parts: ``jobs`` (the work that
runs in worker threads, no widgets), ``backend`` (the only place that talks to
``nets.pretrained``), and one module per widget. Nothing here imports torch at import.
"""
