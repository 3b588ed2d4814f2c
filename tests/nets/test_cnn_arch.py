"""nets.cnn.arch: layer specs, shape validation without torch, summaries, JSON files."""

from __future__ import annotations

import json

import pytest

from nets.cnn.arch import (
    LAYER_TYPES,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    arch_from_json,
    arch_to_json,
    describe_layer,
    layer_fields,
    load_architecture,
    save_architecture,
    totals,
    validate,
)
from nets.cnn.presets import DEFAULT, PRESETS, SEED_TWO_CONV, get_preset, with_num_classes
from nets.errors import ConfigError
from tests.nets.process_fixtures import imported_by

MNIST = (1, 28, 28)


def test_importing_the_cnn_modules_does_not_import_torch():
    code = (
        "import nets.cnn.arch, nets.cnn.model, nets.cnn.train, nets.cnn.checkpoint\n"
        "import nets.cnn.presets, nets.cnn.trained, nets.cnn.cli\n"
    )
    assert not imported_by(code, "torch")


def test_summary_of_a_small_network_by_hand():
    arch = [Conv2d(8, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(10)]
    rows = validate(arch, MNIST, num_classes=10)
    assert [r.output_shape for r in rows] == [(8, 28, 28), (8, 28, 28), (8, 14, 14), (1568,), (10,)]
    assert rows[0].params == 8 * 1 * 9 + 8
    assert rows[0].mult_adds == 8 * 28 * 28 * 9
    assert rows[4].params == 1568 * 10 + 10
    assert rows[4].mult_adds == 15680
    tot = totals(rows, MNIST)
    assert tot.params == 80 + 15690
    assert tot.output_shape == (10,)


def test_stride_padding_and_pool_floor_follow_pytorch():
    rows = validate([Conv2d(4, 5, stride=2, padding=1), AvgPool2d(3, stride=2)], (3, 33, 31))
    # conv: (33 + 2 - 5) // 2 + 1 = 16, (31 + 2 - 5) // 2 + 1 = 15; pool: (16-3)//2+1 = 7, 7
    assert rows[0].output_shape == (4, 16, 15)
    assert rows[1].output_shape == (4, 7, 7)


def test_linear_without_flatten_names_the_layer_and_shapes():
    arch = [Conv2d(8, 3), ReLU(), Linear(10)]
    with pytest.raises(ConfigError, match=r"layer 2 \(Linear\).*8x26x26.*Flatten.*5408"):
        validate(arch, MNIST)


def test_pool_bigger_than_the_feature_map_names_the_layer():
    arch = [Conv2d(8, 3, padding=1), MaxPool2d(2), MaxPool2d(2), MaxPool2d(2), MaxPool2d(4)]
    with pytest.raises(ConfigError, match=r"layer 4 \(MaxPool2d\).*4x4 window.*3x3"):
        validate(arch, MNIST)


def test_kernel_bigger_than_the_input():
    with pytest.raises(ConfigError, match=r"layer 1 \(Conv2d\).*7x7 filter.*4x4"):
        validate([MaxPool2d(7), Conv2d(4, 7)], MNIST)


def test_conv_after_flatten_is_refused():
    with pytest.raises(ConfigError, match=r"layer 1 \(BatchNorm2d\).*flat vector of 784"):
        validate([Flatten(), BatchNorm2d()], MNIST)


def test_the_last_layer_must_give_one_score_per_class():
    with pytest.raises(ConfigError, match=r"layer 1 \(Linear\): outputs 7 values.*10 classes"):
        validate([Flatten(), Linear(7)], MNIST, num_classes=10)
    with pytest.raises(ConfigError, match="ends in a 8x28x28 feature map"):
        validate([Conv2d(8, 3, padding=1)], MNIST, num_classes=10)


@pytest.mark.parametrize(
    "layer, message",
    [
        (Conv2d(0, 3), "out_channels must be between 1"),
        (Conv2d(4, 3, stride=0), "stride must be between 1"),
        (Conv2d(4, 3, padding=-1), "padding must be between 0"),
        (Dropout(1.5), "p must be between 0"),
        (Dropout(float("nan")), "p must be a number"),
        (Linear(2.5), "out_features must be a whole number"),  # type: ignore[arg-type]
    ],
)
def test_bad_field_values_name_the_layer(layer, message):
    with pytest.raises(ConfigError, match=rf"layer 1 \({type(layer).__name__}\): {message}"):
        validate([Flatten() if isinstance(layer, Linear) else ReLU(), layer], MNIST)


def test_empty_architecture_and_bad_input_shape():
    with pytest.raises(ConfigError, match="no layers"):
        validate([], MNIST)
    with pytest.raises(ConfigError, match="input shape"):
        validate([ReLU()], (28, 28))


@pytest.mark.parametrize("preset", list(PRESETS.values()), ids=lambda p: p.key)
def test_presets_are_valid_for_fashion_mnist(preset):
    rows = validate(preset.layers, MNIST, num_classes=10)
    assert rows[-1].output_shape == (10,)
    preset.config.validated()


def test_preset_lookup_by_key_or_title():
    assert get_preset("seed") is SEED_TWO_CONV
    assert get_preset("Seed: two conv layers") is SEED_TWO_CONV
    assert get_preset("DEFAULT") is DEFAULT
    with pytest.raises(ConfigError, match="unknown preset 'nope'.*seed"):
        get_preset("nope")
    resized = with_num_classes(DEFAULT.layers, 3)
    assert resized[-1] == Linear(3)
    validate(resized, (3, 32, 32), num_classes=3)


def test_layer_fields_describe_the_editors():
    conv = {f.name: f for f in layer_fields("Conv2d")}
    assert list(conv) == ["out_channels", "kernel_size", "stride", "padding"]
    assert conv["padding"].minimum == 0 and conv["out_channels"].minimum == 1
    assert layer_fields(ReLU) == []
    assert layer_fields("Dropout")[0].kind == "float"
    assert set(LAYER_TYPES) == {
        "Conv2d",
        "MaxPool2d",
        "AvgPool2d",
        "ReLU",
        "BatchNorm2d",
        "Dropout",
        "Flatten",
        "Linear",
    }
    assert describe_layer(MaxPool2d(3)) == "MaxPool2d(k=3, s=3)"


def test_json_round_trip(tmp_path):
    path = tmp_path / "arch.json"
    save_architecture(path, DEFAULT.layers, name="mine")
    assert tuple(load_architecture(path)) == DEFAULT.layers
    data = json.loads(path.read_text())
    assert data["name"] == "mine" and data["layers"][0]["type"] == "Conv2d"
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("{", "not valid JSON"),
        ("[1]", "expected a JSON object"),
        ('{"format": "x"}', r"\$\.format"),
        ('{"format": "backprop-explorer-cnn-architecture", "version": 9}', r"\$\.version 9"),
        (
            '{"format": "backprop-explorer-cnn-architecture", "version": 1, "layers": '
            '[{"type": "Conv3d"}]}',
            r"\$\.layers\[0\]\.type: unknown layer type 'Conv3d'",
        ),
        (
            '{"format": "backprop-explorer-cnn-architecture", "version": 1, "layers": '
            '[{"type": "ReLU"}, {"type": "Conv2d", "out_channels": "8"}]}',
            r"\$\.layers\[1\]\.out_channels: must be a whole number",
        ),
        (
            '{"format": "backprop-explorer-cnn-architecture", "version": 1, "layers": '
            '[{"type": "Linear", "out_features": 10, "bias": false}]}',
            r"\$\.layers\[0\]: unknown field\(s\) bias",
        ),
        (
            '{"format": "backprop-explorer-cnn-architecture", "version": 1, "layers": '
            '[{"type": "Dropout", "p": NaN}]}',
            "NaN is not allowed",
        ),
        (
            '{"format": "backprop-explorer-cnn-architecture", "version": 1, "layers": '
            '[{"type": "Conv2d", "out_channels": -3}]}',
            "out_channels must be between 1",
        ),
    ],
)
def test_bad_architecture_files_get_clear_messages(tmp_path, text, message):
    path = tmp_path / "arch.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_architecture(path)


def test_deep_nesting_and_binary_files_are_refused(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply|not valid JSON"):
        load_architecture(path)
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not a UTF-8"):
        load_architecture(path)
    with pytest.raises(ConfigError, match="cannot open .*no such architecture file"):
        load_architecture(tmp_path / "missing.json")


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "arch.json"
    save_architecture(path, SEED_TWO_CONV.layers)
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("nets.fileio.os.fsync", full_disk)
    with pytest.raises(ConfigError, match="no space left on the device"):
        save_architecture(path, DEFAULT.layers)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["arch.json"]


def test_json_text_round_trip_keeps_every_layer_type():
    arch = [
        Conv2d(4, 3, 2, 1),
        BatchNorm2d(),
        ReLU(),
        AvgPool2d(2, 1),
        MaxPool2d(2),
        Dropout(0.25),
        Flatten(),
        Linear(10),
    ]
    assert arch_from_json(arch_to_json(arch)) == arch
