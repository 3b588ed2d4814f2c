"""glibc's allocator kept from handing each training step's freed memory back."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nets import allocator
from tests.nets.process_fixtures import run_python

GLIBC = sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))

#: Rounds of eight 4 MB arrays, each touched and then all freed: more than glibc's own
#: (dynamic) trim threshold comes free at once, so by default every round faults afresh.
ROUNDS = textwrap.dedent(
    """
    import resource
    import numpy as np
    {setup}
    def round_():
        arrays = [np.ones(2**20, np.float32) for _ in range(8)]
        del arrays
    round_()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        round_()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def faults_of_ten_rounds(setup: str) -> list[str]:
    """What ``setup`` prints, then the page faults of ten rounds, in a fresh Python."""
    done = run_python(ROUNDS.format(setup=setup))
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_freed_arrays_are_reused_without_page_faults_once_memory_is_kept() -> None:
    (plain,) = faults_of_ten_rounds("")
    kept, faults = faults_of_ten_rounds(
        "from nets.allocator import keep_freed_memory\nprint(keep_freed_memory())"
    )
    assert kept == "True"
    # 10 rounds x 32 MB = 80,000 pages touched: without the setting most fault again.
    assert int(plain) > 20_000
    assert int(faults) < 200


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_a_user_who_tuned_the_allocator_keeps_their_settings() -> None:
    done = run_python(
        "import os\nos.environ['MALLOC_TRIM_THRESHOLD_'] = '0'\n"
        "from nets.allocator import keep_freed_memory\nprint(keep_freed_memory())"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]


@given(
    name=st.sampled_from(allocator.USER_SETTINGS),
    value=st.text(alphabet="0123456789", min_size=1, max_size=8),
)
def test_any_glibc_threshold_in_the_environment_counts_as_the_users_choice(
    name: str, value: str
) -> None:
    assert allocator.user_tuned_allocator({name: value})
    tunable = f"glibc.cpu.x86_shstk=0:glibc.malloc.{name.strip('_').lower()}={value}"
    assert allocator.user_tuned_allocator({"GLIBC_TUNABLES": tunable})


def test_other_settings_are_not_the_allocators() -> None:
    assert not allocator.user_tuned_allocator({})
    assert not allocator.user_tuned_allocator(
        {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F", "OMP_NUM_THREADS": "2"}
    )


def test_training_the_range_test_and_the_pretrained_models_keep_freed_memory(
    monkeypatch,
) -> None:
    import dataclasses
    from types import SimpleNamespace

    import numpy as np

    from nets.cnn.arch import Conv2d, Flatten, Linear
    from nets.cnn.config import TrainConfig
    from nets.cnn.train import run_to_end, train
    from nets.lr_find import cnn_range_test
    from nets.pretrained.threads import configure_threads

    calls: list[str] = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append("kept") or True)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (8, 6, 6, 1), dtype=np.uint8)
    y = np.arange(8) % 2
    data = SimpleNamespace(X_train=X, y_train=y, X_val=X, y_val=y, class_names=("a", "b"))
    config = dataclasses.replace(TrainConfig(), epochs=1, batch_size=4, num_threads=1)
    arch = (Conv2d(2, 3), Flatten(), Linear(2))
    run_to_end(train(arch, data, config))
    assert calls == ["kept"]
    cnn_range_test(arch, data, config, steps=10)
    assert calls == ["kept", "kept"]
    configure_threads(1)
    assert calls == ["kept", "kept", "kept"]
