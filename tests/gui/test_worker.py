"""The worker layer: generators off the GUI thread, with cancel, pause, errors and close."""

from __future__ import annotations

import sys
import threading

import pytest
from PySide6.QtCore import QThread

from gui.worker import GeneratorWorker, WorkerRegistry


def _counting(n: int, gate: threading.Event | None = None):
    def factory(token):
        for i in range(n):
            if gate is not None:
                gate.wait(5)
            yield i

    return factory


def test_items_arrive_in_order_on_the_gui_thread(qtbot):
    worker = GeneratorWorker(_counting(20))
    received, threads = [], []
    worker.item.connect(lambda v: (received.append(v), threads.append(QThread.currentThread())))
    with qtbot.waitSignal(worker.done, timeout=5000) as blocker:
        worker.start()
    assert blocker.args == ["finished"]
    assert received == list(range(20))
    gui_thread = QThread.currentThread()
    assert all(t is gui_thread for t in threads)


def test_the_generator_runs_off_the_gui_thread(qtbot):
    seen = []

    def factory(token):
        seen.append(threading.current_thread() is threading.main_thread())
        yield 1

    worker = GeneratorWorker(factory)
    with qtbot.waitSignal(worker.done, timeout=5000):
        worker.start()
    assert seen == [False]


def test_cancel_stops_between_yields_and_runs_finally(qtbot):
    cleaned = threading.Event()

    def factory(token):
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            cleaned.set()

    worker = GeneratorWorker(factory)
    received = []
    worker.item.connect(received.append)

    def cancel_after_some(value):
        if value == 5:
            worker.cancel()

    worker.item.connect(cancel_after_some)
    with qtbot.waitSignal(worker.done, timeout=5000) as blocker:
        worker.start()
    assert blocker.args == ["cancelled"]
    assert cleaned.is_set()
    assert 5 in received
    assert worker.token.is_set()


def test_pause_holds_the_generator_and_resume_continues(qtbot):
    produced = []
    gate = threading.Event()

    def factory(token):
        for i in range(3):
            produced.append(i)
            yield i
            if i == 0:
                gate.set()

    worker = GeneratorWorker(factory)
    worker.pause()  # paused before the first item is pulled
    worker.start()
    assert not gate.wait(0.3)  # nothing moves while paused
    assert produced == []
    with qtbot.waitSignal(worker.done, timeout=5000) as blocker:
        worker.resume()
    assert blocker.args == ["finished"]
    assert produced == [0, 1, 2]


def test_errors_carry_message_and_traceback(qtbot):
    def factory(token):
        yield 1
        raise ValueError("the loss became NaN at step 3")

    worker = GeneratorWorker(factory)
    failures = []
    worker.failed.connect(lambda *args: failures.append(args))
    with qtbot.waitSignal(worker.done, timeout=5000):
        worker.start()
    [(message, detail)] = failures
    assert message == "the loss became NaN at step 3"
    assert "ValueError" in detail and "Traceback" in detail
    assert worker.status == "failed"


def test_a_worker_cannot_start_twice(qtbot):
    worker = GeneratorWorker(_counting(1))
    with qtbot.waitSignal(worker.done, timeout=5000):
        worker.start()
    with pytest.raises(RuntimeError):
        worker.start()


def test_registry_shutdown_stops_running_and_paused_workers(qtbot):
    registry = WorkerRegistry()

    def endless(token):
        while True:
            yield 0

    running = registry.start(endless, name="running")
    paused = registry.start(endless, name="paused")
    paused.pause()
    qtbot.waitUntil(lambda: running.is_running())
    assert registry.shutdown(timeout_ms=3000)
    assert not running._thread.isRunning() and not paused._thread.isRunning()
    qtbot.waitUntil(lambda: registry.running() == [], timeout=3000)


def test_the_token_reaches_the_generator(qtbot):
    received = []
    stopped_at = []

    def factory(token):
        received.append(token)
        for i in range(1000):
            if token():  # callable, as nets' generators take ``cancel``
                stopped_at.append(i)
                return
            yield i

    worker = GeneratorWorker(factory)
    worker.item.connect(lambda v: worker.cancel() if v == 2 else None)
    with qtbot.waitSignal(worker.done, timeout=5000):
        worker.start()
    assert received == [worker.token]
    assert worker.token.is_set()
    assert worker.status == "cancelled" or (stopped_at and stopped_at[0] < 1000)


def test_many_signal_emissions_do_not_corrupt_the_interpreter():
    """PySide6 6.12.0 dropped a reference to True on every emit and crashed after a few
    hundred; pyproject.toml excludes it. Training emits far more than that."""
    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        fired = Signal(object)

    emitter = Emitter()
    before = sys.getrefcount(True)
    for i in range(5000):
        emitter.fired.emit(i)
    assert abs(sys.getrefcount(True) - before) < 100


def test_a_long_stream_is_delivered_completely(qtbot):
    worker = GeneratorWorker(_counting(3000))
    received = []
    worker.item.connect(received.append)
    with qtbot.waitSignal(worker.done, timeout=20000):
        worker.start()
    assert received == list(range(3000))


def test_stop_tells_only_the_generator_and_every_item_is_delivered(qtbot):
    """``stop()`` is the soft request: the generator sees ``token()`` and ends in its own
    way (a trainer's Stopped event), and what it yields after the request still arrives."""
    gate = threading.Event()

    def factory(token):
        i = 0
        while not token():
            gate.wait(5)
            yield i
            i += 1
        yield "stopped"
        yield "after"

    worker = GeneratorWorker(factory)
    received = []
    worker.item.connect(received.append)

    def stop_at_three(value):
        if value == 3:
            worker.stop()
            assert worker.token() and worker.token.is_set() and not worker.token.is_cancelled()

    worker.item.connect(stop_at_three)
    gate.set()
    with qtbot.waitSignal(worker.done, timeout=5000) as blocker:
        worker.start()
    assert blocker.args == ["finished"]
    assert received[-2:] == ["stopped", "after"] and 3 in received
