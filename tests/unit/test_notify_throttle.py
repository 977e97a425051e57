"""At most one relay wake-up per interval per process, and never a commit left without one after it."""

from __future__ import annotations

import threading
import time

from linli.shared.notify_throttle import NotifyThrottle
from tests.support.waiting import wait_for


def test_one_commit_per_interval_carries_the_notify():
    throttle = NotifyThrottle(lambda: None, interval=0.05)
    assert throttle.claim()
    assert not throttle.claim()
    wait_for(throttle.claim, timeout=2, message="the next interval")


def test_commits_inside_the_window_get_one_late_notify_when_it_ends():
    sent: list[float] = []
    throttle = NotifyThrottle(lambda: sent.append(time.monotonic()), interval=0.05)
    assert throttle.claim()
    window_ends = time.monotonic() + 0.05
    for _ in range(5):
        assert not throttle.claim()
        throttle.owe()
    wait_for(lambda: sent, timeout=2, message="the late notify")
    assert sent[0] >= window_ends - 0.005
    # The next commit inside the following window is owed one of its own.
    assert not throttle.claim()
    throttle.owe()
    wait_for(lambda: len(sent) == 2, timeout=2, message="a second late notify")


def test_a_failing_late_notify_does_not_stop_the_next_one():
    calls: list[int] = []
    done = threading.Event()

    def send() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("database away")
        done.set()

    throttle = NotifyThrottle(send, interval=0.01)
    throttle.claim()
    throttle.owe()
    wait_for(lambda: calls, timeout=2, message="the first, failing, notify")
    throttle.owe()
    assert done.wait(2)
