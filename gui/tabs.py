"""The tabs of the main window, in order: (id, "module:Class").

A tab is listed here only once it works. Modules are imported when the tab is first
shown, which keeps startup light.
"""

from __future__ import annotations

TABS: list[tuple[str, str, str]] = [
    # (tab id, title, "module:Class")
    ("graph", "Graph", "gui.graph_tab.tab:GraphTab"),
    ("mlp", "Two-layer net", "gui.mlp_tab.tab:MlpTab"),
    ("cnn", "CNN", "gui.cnn_tab.tab:CnnTab"),
    ("classify", "Classify", "gui.classify_tab.tab:ClassifyTab"),
]
