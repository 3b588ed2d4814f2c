"""CNN trials: one torch thread, a report per epoch (not per evaluation), the tab's
training-image subset, the preset's layers fitted to the data's classes."""

from __future__ import annotations

import optuna
import torch

from nets.cnn.arch import Conv2d, Flatten, Linear, ReLU, arch_to_dict
from nets.cnn.config import TrainConfig
from nets.search.objective import make_job, run_trial, trial_config
from nets.search.space import Choices, FloatRange
from tests.nets.mlp_fixtures import blobs

LAYERS = (Conv2d(4, kernel_size=3, padding=1), ReLU(), Flatten(), Linear(7))


def _job(num_threads=None, **extra):
    base = TrainConfig(
        optimizer="adam", epochs=2, batch_size=20, evals_per_epoch=3, num_threads=num_threads
    )
    space = (FloatRange("lr", 1e-3, 1e-2, log=True), Choices("batch_size", (20, 40)))
    return make_job("cnn", "arrays", base, space, "t", "", arch=arch_to_dict(LAYERS), extra=extra)


def test_cnn_trials_use_one_torch_thread_whatever_the_base_says():
    for threads in (None, 4):  # the default (every core) and a count of the user's
        assert trial_config(_job(threads), {"lr": 1e-3}).num_threads == 1


def test_cnn_trials_report_once_per_epoch_and_fit_the_classes():
    data = blobs(n=200, classes=3, shape=(8, 8, 1))
    job = _job(fit_classes=True, num_train=100)  # Linear(7) becomes Linear(3)
    study = optuna.create_study(direction="maximize")
    before = torch.get_num_threads()
    try:
        study.optimize(lambda t: run_trial(job, t, data), n_trials=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.COMPLETE, trial.user_attrs.get("error")
    assert sorted(trial.intermediate_values) == [1, 2]  # 3 evaluations per epoch, 1 report
    # 100 of the 160 training images, in batches of 20 or 40: 5 or 3 steps per epoch.
    assert trial.user_attrs["steps_per_epoch"] == -(-100 // trial.params["batch_size"])
