"""The "Implementation: built in | my files..." picker of the Two-layer net tab."""

from __future__ import annotations

from pathlib import Path

from gui.homework.implementation import BUILT_IN, MY_FILES, ImplementationPicker

FIXTURES = Path(__file__).resolve().parents[1] / "nets" / "homework_fixtures"


def test_the_picker_takes_a_folder_with_a_two_layer_net_and_goes_back_to_built_in(qtbot, tmp_path):
    picker = ImplementationPicker()
    qtbot.addWidget(picker)
    assert picker.homework() is None and picker.combo.currentText() == BUILT_IN

    (tmp_path / "functions.py").write_text("def f2(x):\n    return x, (1.0,)\n")
    with qtbot.assertNotEmitted(picker.changed):
        assert not picker.use_folder(tmp_path)
    assert "no two_layer_net.py" in picker.label.text() and picker.homework() is None

    with qtbot.waitSignal(picker.changed):
        assert picker.use_folder(FIXTURES / "neuralnet")
    assert picker.combo.currentText() == MY_FILES
    assert set(picker.homework().files) == {"layers.py", "two_layer_net.py", "train.py"}
    assert "two_layer_net.py, layers.py, train.py" in picker.label.text()

    picker.use_built_in()
    assert picker.homework() is None and picker.combo.currentText() == BUILT_IN
