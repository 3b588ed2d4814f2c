"""The CNN settings' precision choice: the default preset lets the CPU choose, older
checkpoints show float32, and the config follows the combo."""

from __future__ import annotations

from gui.cnn_tab.settings_panel import SettingsPanel
from nets.cnn.config import TrainConfig
from nets.cnn.presets import DEFAULT, SEED_TWO_CONV


def test_the_combo_follows_the_preset_and_sets_the_config(qtbot) -> None:
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.set_config(DEFAULT.config)
    assert panel.precision_combo.currentData() == "auto" and panel.config().precision == "auto"
    with qtbot.waitSignal(panel.changed, timeout=1000):
        panel.precision_combo.setCurrentIndex(panel.precision_combo.findData("bfloat16"))
    assert panel.config().precision == "bfloat16"
    panel.set_config(SEED_TWO_CONV.config)
    assert panel.config().precision == "float32"


def test_a_checkpoint_from_before_the_setting_shows_float32(qtbot) -> None:
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.set_config(DEFAULT.config)
    old = {k: v for k, v in DEFAULT.config.to_dict().items() if k != "precision"}
    panel.set_config(TrainConfig.from_dict(old))
    assert panel.precision_combo.currentText() == "float32"
    assert "AVX512-BF16" in panel.precision_combo.toolTip()
