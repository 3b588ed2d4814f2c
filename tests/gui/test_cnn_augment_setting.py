"""The CNN settings' augmentation checkbox: the default preset turns it on, the config
follows it."""

from __future__ import annotations

from gui.cnn_tab.settings_panel import SettingsPanel
from nets.cnn.config import TrainConfig
from nets.cnn.presets import DEFAULT, SEED_TWO_CONV


def test_the_checkbox_follows_the_preset_and_sets_the_config(qtbot) -> None:
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.set_config(DEFAULT.config)
    assert panel.augment_check.isChecked()
    cfg = panel.config()
    assert (cfg.shift, cfg.flip) == (DEFAULT.config.shift, DEFAULT.config.flip) == (1, True)
    assert "1 pixel" in panel.augment_check.toolTip()
    panel.augment_check.setChecked(False)
    assert (panel.config().shift, panel.config().flip) == (0, False)
    panel.set_config(SEED_TWO_CONV.config)
    assert not panel.augment_check.isChecked()
    panel.set_config(TrainConfig(shift=3, flip=True))
    assert panel.config().shift == 3


def test_label_smoothing_of_a_preset_or_checkpoint_is_kept(qtbot) -> None:
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.set_config(TrainConfig(label_smoothing=0.1))
    assert panel.config().label_smoothing == 0.1
    panel.set_config(SEED_TWO_CONV.config)
    assert panel.config().label_smoothing == 0.0
