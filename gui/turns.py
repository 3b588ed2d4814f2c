"""The event loop's turns, shared out among the GUI's costly redraws.

Qt paints every widget that one turn of the event loop dirtied in one go, in the posted
update request that follows the turn's timers. Two costly redraws in one turn stall the
loop for their sum: on the CNN tab with internals every step, an Inside view slice and
the loss plot's redraw landing in the same turn made 31 ms of GUI-thread CPU without a
break (issue 14's bench); the Inside view's three line plots' first paints in one turn
made 17 of its first show's 21 ms.

- ``TURNS.claim(owner)``: an owner about to dirty its widgets (a live plot's timer, an
  Inside view slice, a garbage collection) asks for the current turn; False when another
  owner has it, and the caller tries again on a later tick. The turn is released by a
  posted call: Qt delivers it after the timer slots of this turn have run, so no other
  owner's work joins the claimer's paint.
- ``stagger_first_paints(widgets)``: the first paint of each widget gets a turn of its
  own (a widget whose turn has not come paints its background and is repainted after
  the next timers have run); later paints are left alone (a repaint that waited would
  flicker). ``finish()`` on what it returns ends the staggering (screenshots, tests).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget


class Turns:
    """Who has the current turn of the event loop (see the module doc)."""

    def __init__(self) -> None:
        self.holder: object | None = None
        self.refused = 0  # claims refused so far (tests and benches read it)
        #: time.monotonic() of the last redraw's claim (a garbage collection is none)
        self.last_redraw = -math.inf

    def claim(self, owner: object, *, redraw: bool = True) -> bool:
        """True if ``owner`` has the current turn (now or already); False if another does.
        ``redraw``: the owner paints (the garbage collector does not)."""
        if self.holder is not None and self.holder is not owner:
            self.refused += 1
            return False
        if redraw:
            self.last_redraw = time.monotonic()
        if self.holder is None:
            self.holder = owner
            QTimer.singleShot(0, self.release)  # a posted call, after this turn's timers
        return True

    def release(self) -> None:
        self.holder = None


#: The one turn keeper of the GUI thread.
TURNS = Turns()

#: Delay before the next first paint: a real timer (a zero one is a posted call that Qt
#: may deliver in the same pass as the paint), so the loop's other timers run between.
NEXT_FIRST_PAINT_MS = 1


class FirstPaints(QObject):
    """The event filter of ``stagger_first_paints``; ``finish()`` lets every widget paint
    at once from now on (a screenshot, a test)."""

    def __init__(self, widgets: Sequence[QWidget], background: QColor) -> None:
        super().__init__(widgets[0])
        self.waiting = list(widgets)
        self.refused: list[QWidget] = []
        self.background = background
        self._busy = False
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Paint or watched not in self.waiting:
            return False
        assert isinstance(watched, QWidget)
        if not self._busy:
            self._busy = True
            self.waiting.remove(watched)
            watched.removeEventFilter(self)
            QTimer.singleShot(NEXT_FIRST_PAINT_MS, self, self._next_turn)
            return False  # this one paints now
        # Not its turn: its background now (what it shows before its first paint anyway).
        painter = QPainter(watched)
        painter.fillRect(watched.rect(), self.background)
        painter.end()
        if watched not in self.refused:
            self.refused.append(watched)
        return True

    def _next_turn(self) -> None:
        self._busy = False
        refused, self.refused = self.refused, []
        for widget in refused:
            widget.update()

    def finish(self) -> None:
        for widget in self.waiting:
            widget.removeEventFilter(self)
        self.waiting.clear()
        self._next_turn()


def stagger_first_paints(
    widgets: Sequence[QWidget], background: QColor | Qt.GlobalColor = Qt.GlobalColor.white
) -> FirstPaints:
    """Give the first paint of each of ``widgets`` (widgets that paint: a graphics view's
    viewport; at least one) an event-loop turn of its own, in the order Qt comes to paint
    them."""
    return FirstPaints(widgets, QColor(background))
