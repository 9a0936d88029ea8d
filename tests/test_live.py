"""The live-update plumbing on its own: notice encoding and the broker's fan-out rules.

Delivery through the app, over WebSocket and across processes, is in test_subscriptions.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from gql_progress.domain.completion.notices import CourseCompleted, ProgressWritten, decode, encode
from gql_progress.live.broker import Broker, LiveUpdatesInterrupted, SubscriberTooSlow, Topic
from gql_progress.settings import SettingsError, load_settings


def test_notices_survive_encoding_and_stay_small() -> None:
    progress = ProgressWritten(user_id=2**31 - 1, course_id=7, record_id=2**63 - 1)
    completed = CourseCompleted(user_id=3, course_id=7, completed_at=datetime(2026, 1, 2, 3, 4, 5, 6, UTC))

    assert decode(encode(progress)) == progress
    assert decode(encode(completed)) == completed
    assert len(encode(progress)) < 200  # PostgreSQL refuses NOTIFY payloads of 8000 bytes


def test_decode_reads_postgresql_json_timestamps() -> None:
    # json_build_object's spelling of a timestamptz in a session whose time zone is not UTC.
    notice = decode(
        '{"kind" : "course_completed", "user" : 3, "course" : 7, "at" : "2026-01-02T04:04:05+01:00"}'
    )

    assert notice == CourseCompleted(3, 7, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "hello",
        "[]",
        '{"kind": "progress"}',
        '{"kind": "progress", "user": "1", "course": 1, "record": 1}',
        '{"kind": "progress", "user": true, "course": 1, "record": 1}',
        '{"kind": "other", "user": 1}',
    ],
)
def test_payloads_that_are_not_ours_are_ignored(payload: str) -> None:
    assert decode(payload) is None


async def test_a_notice_reaches_only_the_subscriptions_of_its_kind_course_and_user() -> None:
    broker = Broker(queue_size=10)
    notice = ProgressWritten(user_id=1, course_id=5, record_id=9)

    with (
        broker.subscribe(Topic(ProgressWritten, 5, 1)) as mine,
        broker.subscribe(Topic(ProgressWritten, 5, 2)) as someone_elses,
        broker.subscribe(Topic(ProgressWritten, 6, 1)) as other_course,
        broker.subscribe(Topic(CourseCompleted, 5, None)) as completions,
        broker.subscribe(Topic(ProgressWritten, 5, None)) as everyones,
    ):
        broker.publish(notice)

        assert await mine.next_batch() == [notice]
        assert await everyones.next_batch() == [notice]
        for idle in (someone_elses, other_course, completions):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(idle.next_batch(), 0.01)
    assert broker.subscriber_count == 0


async def test_a_subscriber_that_falls_behind_is_ended_and_its_backlog_dropped() -> None:
    broker = Broker(queue_size=2)

    with (
        broker.subscribe(Topic(ProgressWritten, 5, 1)) as slow,
        broker.subscribe(Topic(ProgressWritten, 5, 1)) as fast,
    ):
        for record_id in range(3):
            broker.publish(ProgressWritten(1, 5, record_id))
            assert len(await fast.next_batch()) == 1

        with pytest.raises(SubscriberTooSlow):
            await slow.next_batch()
    assert broker.overflows == 1


async def test_waiting_notices_are_read_as_one_batch() -> None:
    broker = Broker(queue_size=5)

    with broker.subscribe(Topic(ProgressWritten, 5, 1)) as subscription:
        for record_id in range(3):
            broker.publish(ProgressWritten(1, 5, record_id))

        assert await subscription.next_batch() == [ProgressWritten(1, 5, i) for i in range(3)]


async def test_suspending_ends_every_subscription_and_refuses_new_ones_until_resumed() -> None:
    broker = Broker(queue_size=5)

    with broker.subscribe(Topic(ProgressWritten, 5, 1)) as before:
        broker.suspend()
        with pytest.raises(LiveUpdatesInterrupted):
            await before.next_batch()
        with broker.subscribe(Topic(ProgressWritten, 5, 1)) as during, pytest.raises(LiveUpdatesInterrupted):
            await during.next_batch()
        broker.resume()
        with broker.subscribe(Topic(ProgressWritten, 5, 1)) as after:
            broker.publish(ProgressWritten(1, 5, 1))
            assert await after.next_batch() == [ProgressWritten(1, 5, 1)]


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("value", ["Progress", "gql-progress", "1st", "x" * 64, ""])
def test_a_channel_name_postgresql_would_not_take_as_written_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GQL_PROGRESS_LIVE_CHANNEL", value)

    with pytest.raises(SettingsError, match="GQL_PROGRESS_LIVE_CHANNEL") as refused:
        load_settings()
    assert "\n" not in str(refused.value)


@pytest.mark.usefixtures("clean_env")
def test_live_settings_default_to_on_with_a_bounded_queue() -> None:
    settings = load_settings()

    assert settings.live_updates_enabled
    assert settings.live_channel == "gql_progress_live"
    assert settings.live_queue_size == 1000
