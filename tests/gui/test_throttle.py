"""gui.throttle.Throttle: many requests, one call per interval, none lost."""

from __future__ import annotations

from gui.throttle import Throttle


def test_many_requests_make_one_call_per_interval_and_a_last_one(qtbot):
    calls = []
    throttle = Throttle(lambda: calls.append(len(requests)), interval_ms=100)
    requests = []
    for _ in range(500):
        requests.append(1)
        throttle.request()
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=2000)
    assert calls == [500]  # the first call saw every request made before it
    requests.append(1)
    throttle.request()
    throttle.request()
    assert throttle.pending() and len(calls) == 1  # not before the interval has passed
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=2000)
    assert calls == [500, 501]
    qtbot.wait(150)
    assert throttle.calls == 2 and not throttle.pending()


def test_flush_runs_a_pending_request_now_and_cancel_drops_it(qtbot):
    calls = []
    throttle = Throttle(lambda: calls.append(1), interval_ms=10_000)
    throttle.flush()
    assert calls == []  # nothing pending, nothing to do
    throttle.request()
    throttle.flush()
    assert calls == [1]
    throttle.request()  # within the interval: waits
    throttle.cancel()
    qtbot.wait(50)
    assert calls == [1] and not throttle.pending()
