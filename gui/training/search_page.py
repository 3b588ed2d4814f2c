"""The Search page of a training tab, built when it is first shown.

``install(tab, kind, base)`` adds the page to a ``gui.training.tab.TrainingTab`` and
returns its ``gui.lazy.LazyWidget``: the search modules (``gui.training.search`` and its
form and views) are imported and the ``SearchPanel`` is built only then, which keeps them
out of the app's start-up. Its workers stop when the tab shuts down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gui.lazy import LazyWidget
    from gui.training.search import SearchBase, SearchPanel


def install(tab: Any, kind: str, base: Callable[[], SearchBase | str]) -> LazyWidget[SearchPanel]:
    """Add the Search page for ``kind`` ("mlp" or "cnn"); ``base()`` says what its trials
    start from (or why they cannot start)."""

    def build() -> SearchPanel:
        from gui.training.search import SearchPanel
        from gui.training.search_form import search_labels

        return SearchPanel(tab, kind, search_labels(kind), base)

    return tab.add_lazy_page(build, "Search")
