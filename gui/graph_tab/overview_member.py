"""What a node or edge item does so that the far-out overview (``gui.graph_tab.overview``)
shows its changes."""

from __future__ import annotations

from typing import Any


class OverviewMember:
    """Mixin of a scene item that an overview layer may draw in its place.

    ``OVERVIEW_LAYER`` names the scene's attribute holding that layer. While the layer
    draws the item (ItemHasNoContents), ``update()`` alone shows nothing: the layer must
    gather again.
    """

    OVERVIEW_LAYER = ""

    def _look_changed(self) -> None:
        self.update()  # type: ignore[attr-defined]
        self._tell_overview()

    def _tell_overview(self) -> None:
        scene: Any = self.scene()  # type: ignore[attr-defined]
        layer = getattr(scene, self.OVERVIEW_LAYER, None) if scene is not None else None
        if layer is not None:
            layer.invalidate()
