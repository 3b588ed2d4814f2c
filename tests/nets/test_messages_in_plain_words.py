"""Messages a user reads are plain sentences naming the problem: no Python internals."""

from __future__ import annotations

import pytest

import main
from nets.data.dataset import split_train_val
from nets.errors import DataError


def test_an_empty_dataset_is_said_to_be_empty() -> None:
    import numpy as np

    with pytest.raises(DataError, match="^the dataset has no training images$"):
        split_train_val(np.zeros(0, dtype=np.int64), 0)


def test_control_characters_in_an_error_are_shown_escaped(capsys) -> None:
    code = main.main(["graph", "eval", "/nonexistent/\x1b[31mred.json"])
    assert code == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b[31mred.json" in err


def test_validation_size_zero_trains_without_a_reshape_error(tmp_path) -> None:
    from PIL import Image

    for k, colour in enumerate(((200, 0, 0), (0, 200, 0))):
        (tmp_path / "train" / f"c{k}").mkdir(parents=True)
        for i in range(8):
            Image.new("RGB", (32, 32), colour).save(tmp_path / "train" / f"c{k}" / f"{i}.png")
    code = main.main(
        [
            "mlp",
            "train",
            "--data",
            f"folder:{tmp_path}",
            "--num-val",
            "0",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--hidden-dim",
            "4",
        ]
    )
    assert code == 0


def test_an_error_in_one_line_keeps_our_message_and_names_a_foreign_one() -> None:
    from nets.errors import ConfigError, first_line, one_line

    assert one_line(ConfigError("the batch is too large\nmore")) == "the batch is too large"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(RuntimeError("\n  server closed\nTraceback")) == "RuntimeError: server closed"
    assert first_line(RuntimeError("server closed\nTraceback")) == "server closed"
    assert first_line(ValueError("")) == "ValueError"
