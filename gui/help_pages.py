"""Help > Quick start and Help > Keyboard shortcuts.

The shortcut list is read from the actions themselves (the current tab's menus and the
window's own), so it always says what the keys really do.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

QUICK_START = """
<h2>Quick start</h2>
<h3>1. Graph: watch backpropagation on a small graph</h3>
<ol>
<li><b>File &gt; Examples &gt; f3</b> opens the softmax cross-entropy of the homework.</li>
<li>Press <b>→</b> to compute the next node's value; the step panel explains it.</li>
<li>Press <b>←</b> to send the gradient back through the next node; edges show
"upstream × local = contribution". <b>F5</b> runs everything, <b>Shift+F5</b> resets.</li>
<li>Edit an input in the <b>Inputs</b> table (double-click its value) and step again.</li>
<li>Build your own: drag an op from the palette onto the canvas (or press <b>Tab</b> on
the canvas), then drag from an output port (right) to an input port (left).</li>
<li><b>Edit &gt; Practice mode</b> hides the gradients: type each one yourself.</li>
</ol>
<h3>2. Two-layer net: train the numpy network</h3>
<p>Pick a dataset (CIFAR-10, Fashion-MNIST or an image folder), a preset, and press
<b>Start</b>. The curves draw live; every run stays in the runs list to compare.</p>
<h3>3. CNN: design and train a PyTorch CNN</h3>
<p>Add layers in the architecture table; the shapes column tells whether it can run.
Press <b>Start</b> to train on Fashion-MNIST.</p>
<h3>4. Classify: photos through a pretrained ImageNet model</h3>
<p><b>File &gt; Open Images</b> or drop photos on the window: you see the top-5 classes,
the 224×224 input the model received and a Grad-CAM heat-map of where it looked.</p>
<p>Every edit can be undone (<b>Ctrl+Z</b>); <b>Help &gt; Keyboard shortcuts</b> lists
the keys.</p>
"""


def shortcut_rows(groups: Iterable[tuple[str, Iterable[QAction]]]) -> list[tuple[str, str, str]]:
    """(group, action text, keys) for every action with a shortcut, each action once."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()
    for group, actions in groups:
        for action in actions:
            if action is None or id(action) in seen:
                continue
            seen.add(id(action))
            if action.menu() is not None:
                rows += shortcut_rows([(group, action.menu().actions())])
                continue
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
            keys = [k for k in keys if k]
            if keys:
                text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
                rows.append((group, text.rstrip("…").rstrip("."), " or ".join(keys)))
    return rows


def shortcuts_html(rows: list[tuple[str, str, str]]) -> str:
    out = ["<h2>Keyboard shortcuts</h2>"]
    group = None
    for g, text, keys in rows:
        if g != group:
            if group is not None:
                out.append("</table>")
            out.append(f"<h3>{html.escape(g)}</h3><table cellspacing='4'>")
            group = g
        out.append(f"<tr><td><b>{html.escape(keys)}</b></td><td>{html.escape(text)}</td></tr>")
    if group is not None:
        out.append("</table>")
    return "".join(out)


def show_page(parent: QWidget, title: str, object_name: str, body: str) -> QDialog:
    """A non-modal window with ``body`` (HTML) and a Close button."""
    dialog = QDialog(parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.setObjectName(object_name)
    dialog.setWindowTitle(title)
    text = QTextBrowser()
    text.setObjectName(f"{object_name}Text")
    text.setHtml(body)
    text.setOpenExternalLinks(True)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    layout.addWidget(buttons)
    dialog.resize(560, 620)
    dialog.show()
    return dialog
