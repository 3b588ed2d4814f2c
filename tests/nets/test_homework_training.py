"""Training the user's own TwoLayerNet with the app's loop: the same events, a quick
gradient check first, Stop, and errors in their code mid-run."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from nets.data.dataset import ImageDataset
from nets.homework.layout import find_homework
from nets.homework.own_model import WINDOW
from nets.homework.sandbox import SandboxError
from nets.homework.training import GradientCheckFailed, train_own
from nets.mlp.classifiers import TwoLayerNet
from nets.mlp.config import TrainConfig
from nets.training import Evaluation, Finished, Started, Step, Stopped

FIXTURES = Path(__file__).parent / "homework_fixtures"
CONFIG = TrainConfig(
    num_train=None,
    hidden_dim=16,
    batch_size=50,
    num_epochs=2,
    learning_rate=0.5,
    reg=1e-3,
    weight_scale=0.05,
)


def _data(n: int = 400) -> ImageDataset:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    X = rng.integers(0, 90, (n, 4, 4, 3)) + (y * 80)[:, None, None, None]
    X = X.astype(np.uint8)
    cut = n * 3 // 4
    return ImageDataset(X[:cut], y[:cut], X[cut:], y[cut:], None, None, ("a", "b", "c"), "toy")


def _homework(tmp_path: Path, file: str = "", good: str = "", bad: str = "") -> object:
    folder = tmp_path / "hw"
    shutil.copytree(FIXTURES / "neuralnet", folder)
    if file:
        path = folder / file
        path.write_text(path.read_text().replace(good, bad))
    return find_homework([folder])


def test_training_your_own_code_yields_the_shared_events_and_learns(tmp_path):
    mirror = TwoLayerNet(48, 3, 16, 0.05, dtype=np.float64)
    events = list(train_own(CONFIG, _data(), _homework(tmp_path), model=mirror))
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished
    assert kinds.count(Evaluation) == 2 and kinds.count(Step) == 2 * 6
    started, end = events[0], events[-1]
    assert started.config.dtype == "float64"  # the user's arrays set the precision
    losses = [e.loss for e in events if isinstance(e, Step)]
    assert losses[0] == pytest.approx(np.log(3), abs=0.3)
    assert losses[-1] < losses[0]
    assert events[-2].val_acc > 0.6
    assert end.result.model is mirror
    assert end.result.history.step_loss == pytest.approx(losses)
    assert end.result.preprocessor is not None
    # The mirror holds the user's trained weights: it predicts as the run measured.
    data = _data()
    X_val = end.result.preprocessor.transform(data.X_val, dtype=np.float64)
    assert mirror.accuracy(X_val, data.y_val) == pytest.approx(events[-2].val_acc)


def test_a_failing_gradient_check_names_the_parameter_and_nothing_trains(tmp_path):
    homework = _homework(
        tmp_path, "two_layer_net.py", "grad_h = relu_backward(grad_a, cache2)", "grad_h = grad_a"
    )
    events = train_own(CONFIG, _data(), homework)
    with pytest.raises(GradientCheckFailed, match=r"fails for (W1|b1): relative error") as info:
        next(events)
    assert "training did not start" in str(info.value)


def test_stop_ends_the_run_with_the_weights_so_far(tmp_path):
    steps = 0

    def stop() -> bool:
        return steps >= 3

    events = []
    for event in train_own(CONFIG, _data(), _homework(tmp_path), cancel=stop):
        events.append(event)
        steps += isinstance(event, Step)
    assert isinstance(events[-1], Stopped)
    # The loop runs at most WINDOW events ahead of its consumer, so it stops that soon.
    assert 3 <= events[-1].step <= 3 + WINDOW and events[-1].step < 12
    assert events[-1].result.model is not None


def test_an_error_in_the_users_code_mid_run_shows_their_traceback(tmp_path):
    homework = _homework(
        tmp_path,
        "train.py",
        "    scores, cache = model.forward(X_batch)\n",
        "    scores, cache = model.forward(X_batch)\n"
        "    if reg > 0:\n        raise RuntimeError('my step broke')\n",
    )
    with pytest.raises(SandboxError, match="my step broke") as info:
        list(train_own(CONFIG, _data(), homework))
    assert "train.py" in str(info.value) and "nets/mlp" not in str(info.value)
