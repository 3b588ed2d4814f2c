"""Cyclic garbage collection happens in the GUI thread, never in a worker."""

from __future__ import annotations

import gc
import threading

from gui.gc_guard import MainThreadGarbageCollector
from gui.worker import GeneratorWorker


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_automatic_collection_is_off_while_the_guard_lives():
    assert not gc.isenabled()


def test_a_worker_allocating_garbage_never_triggers_collection_in_its_thread(qtbot):
    collecting_threads: set[str] = set()

    def watch(phase, info):
        if phase == "start":
            collecting_threads.add(threading.current_thread().name)

    def factory(token):
        for _ in range(20):
            for _ in range(2000):
                _Cycle()  # unreachable cycles: only the cyclic collector frees them
            yield 0

    gc.callbacks.append(watch)
    try:
        worker = GeneratorWorker(factory)
        with qtbot.waitSignal(worker.done, timeout=20000):
            worker.start()
    finally:
        gc.callbacks.remove(watch)
    assert collecting_threads <= {threading.main_thread().name}


def test_the_timer_collects_what_is_due(qtbot):
    guard = MainThreadGarbageCollector(interval_ms=10)
    try:
        for _ in range(gc.get_threshold()[0] + 10):
            _Cycle()
        assert gc.get_count()[0] > gc.get_threshold()[0]
        qtbot.waitUntil(lambda: gc.get_count()[0] < gc.get_threshold()[0], timeout=5000)
    finally:
        guard._timer.stop()
    assert not gc.isenabled()  # the session's guard still owns the schedule


def test_once_torch_is_loaded_the_survivors_are_frozen(monkeypatch):
    import sys
    import types

    if "torch" not in sys.modules:
        monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    guard = MainThreadGarbageCollector(interval_ms=60_000)
    try:
        keep = [[i] for i in range(1000)]  # long-lived, tracked by the collector
        before = gc.get_freeze_count()
        guard.collect_due()
        assert gc.get_freeze_count() >= before + len(keep)
        frozen = gc.get_freeze_count()
        guard.collect_due()  # only once
        assert gc.get_freeze_count() == frozen
    finally:
        guard._timer.stop()


def _module(name, initializing):
    import importlib.machinery
    import types

    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__spec__._initializing = initializing
    return module


def test_nothing_is_collected_or_frozen_while_torch_is_still_importing(monkeypatch):
    import sys

    torch = _module("torch", initializing=True)  # a worker is running torch/__init__.py
    monkeypatch.setitem(sys.modules, "torch", torch)
    guard = MainThreadGarbageCollector(interval_ms=60_000)
    try:
        guard._frozen_for = frozenset({"torchvision", "captum"})  # only torch is new
        for _ in range(gc.get_threshold()[0] + 10):
            _Cycle()
        count, frozen = gc.get_count()[0], gc.get_freeze_count()
        assert guard.collect_due() == 0
        assert gc.get_count()[0] >= count  # the young generation was not collected
        assert gc.get_freeze_count() == frozen
        torch.__spec__._initializing = False  # the import has finished
        keep = [[i] for i in range(1000)]
        guard.collect_due()
        assert gc.get_freeze_count() >= frozen + len(keep)
    finally:
        guard._timer.stop()


def test_a_heavy_package_loaded_later_is_frozen_too(monkeypatch):
    import sys

    for name in ("torch", "torchvision", "captum"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "torch", _module("torch", initializing=False))
    guard = MainThreadGarbageCollector(interval_ms=60_000)
    try:
        guard.collect_due()
        frozen = gc.get_freeze_count()
        keep = [[i] for i in range(1000)]
        monkeypatch.setitem(sys.modules, "captum", _module("captum", initializing=False))
        guard.collect_due()
        assert gc.get_freeze_count() >= frozen + len(keep)
    finally:
        guard._timer.stop()
