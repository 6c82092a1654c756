"""Re-deliveries: skipped once handled, never dropped when not."""

from __future__ import annotations

from bot.slack.dedup import DeliveryLog, RecentIds, retry_num


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_recent_ids_forget_after_the_ttl() -> None:
    clock = Clock()
    seen = RecentIds(ttl=60, clock=clock)
    assert seen.add("a") is True
    assert seen.add("a") is False
    clock.now += 59
    assert "a" in seen
    clock.now += 2
    assert "a" not in seen
    assert seen.add("a") is True


def test_recent_ids_are_bounded() -> None:
    seen = RecentIds(ttl=3600, max_items=100, clock=Clock())
    for i in range(1000):
        seen.add(f"id{i}")
    assert len(seen) == 100
    assert "id999" in seen and "id0" not in seen


def test_events_first_deliveries_always_retries_only_when_unhandled() -> None:
    log = DeliveryLog(RecentIds(clock=Clock()))
    assert log.should_handle_event("Ev1", retry_num=0) is True
    assert log.should_handle_event("Ev1", retry_num=1) is False  # retry of something handled
    assert log.should_handle_event("Ev2", retry_num=1) is True  # retry of something never seen
    assert log.should_handle_event("Ev2", retry_num=2) is False
    assert log.should_handle_event(None, retry_num=3) is True


def test_envelopes_once_unless_handling_failed() -> None:
    log = DeliveryLog(RecentIds(clock=Clock()))
    assert log.start_envelope("env-1") is True
    assert log.start_envelope("env-1") is False
    assert log.start_envelope("env-2") is True
    log.envelope_failed("env-2")
    assert log.start_envelope("env-2") is True


def test_retry_number_from_http_headers_or_socket_mode() -> None:
    assert retry_num({"x-slack-retry-num": ["2"]}) == 2
    assert retry_num({"x-slack-retry-num": "1"}) == 1
    assert retry_num({}) == 0
    assert retry_num({"x-slack-retry-num": ["nonsense"]}) == 0
