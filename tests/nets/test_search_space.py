"""Search spaces: SPACE.json loading (one-line errors naming the file), grids, suggestions
and the per-epoch reports a pruner acts on."""

from __future__ import annotations

import json
import math

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nets.errors import ConfigError
from nets.mlp.config import TrainConfig
from nets.search.objective import SEARCHABLE, make_job, run_trial, without_test
from nets.search.space import (
    Choices,
    FloatRange,
    IntRange,
    grid,
    load_space,
    space_from_json,
    space_to_json,
)
from tests.nets.mlp_fixtures import blobs

MLP = SEARCHABLE["mlp"]


def test_space_json_round_trips_every_kind_of_range(tmp_path):
    space = (
        FloatRange("learning_rate", 1e-4, 1e-1, log=True),
        FloatRange("momentum", 0.0, 0.9),
        IntRange("hidden_dim", 16, 256, log=True, grid=4),
        Choices("batch_size", (64, 128)),
    )
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space_to_json(space)))
    assert load_space(path, MLP) == space


def test_types_are_inferred_without_a_type_key():
    space = space_from_json(
        {
            "hidden_dim": {"low": 8, "high": 64},
            "reg": {"low": 0, "high": 0.5},
            "batch_size": {"choices": [32]},
        }
    )
    assert [type(r) for r in space] == [IntRange, FloatRange, Choices]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{", "is not a JSON search space (line 1)"),
        ("[]", "a search space is a JSON object"),
        ("{}", "the search space is empty"),
        ('{"lr": {"low": 1, "high": 2}}', "'lr' is not a hyperparameter that can be searched"),
        ('{"reg": {"low": 0, "high": 1, "log": true}}', "a log range needs a low end above 0"),
        ('{"reg": {"low": 2, "high": 1}}', "the low end 2 is above the high end 1"),
        ('{"reg": {"high": 1}}', "a range needs low and high"),
        ('{"reg": {"low": 0, "high": 1, "step": 1}}', "unknown key 'step'"),
        ('{"batch_size": {"choices": []}}', "the list of choices is empty"),
        ('{"hidden_dim": {"type": "int", "low": 1.5, "high": 4}}', "whole-number bounds"),
    ],
)
def test_bad_space_files_are_refused_in_one_line_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "space.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_space(path, MLP)
    message = str(info.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_a_folder_is_refused_as_a_space_file(tmp_path):
    with pytest.raises(ConfigError, match="it is a folder"):
        load_space(tmp_path, MLP)


@given(st.binary(max_size=200))
def test_any_bytes_load_as_a_space_or_give_a_config_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fuzz") / "space.json"
    path.write_bytes(raw)
    try:
        load_space(path, MLP)
    except ConfigError as exc:
        assert "\n" not in str(exc)


def test_the_grid_spaces_ranges_as_they_are_spaced():
    g = grid(
        (
            FloatRange("reg", 1e-4, 1e-2, log=True),
            IntRange("hidden_dim", 10, 30),
            Choices("batch_size", (8, 16)),
        )
    )
    assert g["reg"] == pytest.approx([1e-4, 1e-3, 1e-2])
    assert g["hidden_dim"] == [10, 20, 30]
    assert g["batch_size"] == [8, 16]


def test_trials_report_each_epoch_and_the_median_pruner_stops_poor_ones():
    data = without_test(blobs(n=300, classes=3))
    assert data.X_test is None and data.y_test is None
    base = TrainConfig(
        num_train=None,
        hidden_dim=8,
        batch_size=30,
        num_epochs=4,
        learning_rate=0.05,
        weight_scale=1e-2,
        reg=0.0,
        momentum=0.9,
    )
    job = make_job(
        "mlp", "arrays", base, (FloatRange("learning_rate", 1e-9, 1e-1, log=True),), "t", ""
    )
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2)
    )
    for lr in (0.05, 0.05, 1e-9):  # two good runs, then one that cannot learn
        study.enqueue_trial({"learning_rate": lr})
    study.optimize(lambda t: run_trial(job, t, data), n_trials=3)
    good, _, poor = study.trials
    assert sorted(good.intermediate_values) == [1, 2, 3, 4]
    assert good.user_attrs["epoch_val_acc"] == [good.intermediate_values[e] for e in (1, 2, 3, 4)]
    assert len(good.user_attrs["loss"]) == len(good.user_attrs["loss_x"]) > 0
    assert poor.state == optuna.trial.TrialState.PRUNED
    assert poor.user_attrs["note"].startswith("pruned after epoch")


def test_a_diverged_step_is_recorded_as_a_gap_not_as_a_loss_of_zero():
    from nets.search.objective import _thin

    steps, losses = _thin([2.3, float("nan"), 1.9, float("inf")], points=4)
    assert steps == [1, 2, 3, 4]
    assert losses[0] == 2.3 and losses[2] == 1.9
    assert not any(v == 0.0 for v in losses)
    assert math.isnan(losses[1]) and math.isinf(losses[3])
