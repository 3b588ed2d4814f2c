"""gui.choices: combos of (label, value) choices, selected by value."""

from __future__ import annotations

from gui.choices import choice_combo, select_value


def test_a_choice_is_shown_by_label_and_read_back_by_value(qtbot) -> None:
    combo = choice_combo("pick", [("one", 1), ("two", 2)], "pick a number")
    qtbot.addWidget(combo)
    assert (combo.objectName(), combo.toolTip(), combo.count()) == ("pick", "pick a number", 2)
    assert select_value(combo, 2) and combo.currentText() == "two" and combo.currentData() == 2


def test_an_unknown_value_changes_nothing(qtbot) -> None:
    combo = choice_combo("pick", [("one", 1), ("two", 2)])
    qtbot.addWidget(combo)
    select_value(combo, 2)
    assert not select_value(combo, 3)
    assert combo.currentData() == 2 and combo.toolTip() == ""
