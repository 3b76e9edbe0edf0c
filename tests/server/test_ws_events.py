"""EventRouter: subscriptions, matching and throttling, with no loop and no socket."""

from __future__ import annotations

import pytest

from evqueue.engine.events import EventType
from evqueue.server.ws_events import (
    MAX_HELD_IDS,
    EventRouter,
    Push,
    Subscription,
    TooManySubscriptions,
)

PING = b"<ping/>"
LIST = b'<instances action="list"/>'


def sub(type: str = "INSTANCE_STARTED", api_cmd: bytes = PING, object_id: int = 0,
        external_id: int = 1) -> Subscription:
    return Subscription(EventType(type), api_cmd, object_id, external_id)


def deliver(router: EventRouter, push: Push) -> int:
    """Finish a push as the connection would; returns its event id."""
    event_id, following = router.finish(push)
    assert event_id is not None
    assert following is None
    return event_id


def test_subscribe_without_send_now_pushes_nothing() -> None:
    router = EventRouter()
    assert router.subscribe(sub()) is None
    assert len(router) == 1


def test_send_now_pushes_at_once_with_the_subscription_object() -> None:
    router = EventRouter()
    push = router.subscribe(sub(object_id=7, external_id=5), send_now=True)
    assert push is not None
    assert (push.api_cmd, push.external_id, push.object_ids) == (PING, 5, (7,))
    plain = router.subscribe(sub(api_cmd=LIST), send_now=True)
    assert plain is not None and plain.object_id_text == ""


def test_event_matches_type_and_object_filter() -> None:
    router = EventRouter()
    router.subscribe(sub("TASK_ENQUEUE", object_id=100, external_id=1))
    router.subscribe(sub("TASK_ENQUEUE", object_id=0, external_id=2))
    router.subscribe(sub("TASK_EXECUTE", object_id=0, external_id=3))
    assert [p.external_id for p in router.publish("TASK_ENQUEUE", 100)] == [1, 2]
    assert [p.external_id for p in router.publish("TASK_EXECUTE", 5)] == [3]
    assert router.publish("INSTANCE_STARTED", 1) == []
    assert router.publish("NOT_A_TYPE", 1) == []


def test_throttled_channel_holds_and_merges_until_acked() -> None:
    router = EventRouter(throttling=True)
    router.subscribe(sub())
    (first,) = router.publish("INSTANCE_STARTED", 8)
    assert first.object_ids == (8,)
    for object_id in (9, 10, 9, 11):  # 9 twice: merged once
        assert router.publish("INSTANCE_STARTED", object_id) == []
    event_id = deliver(router, first)
    assert router.publish("INSTANCE_STARTED", 12) == []  # unacked: still held
    assert router.ack(event_id + 100) is None  # unknown ids are ignored
    resend = router.ack(event_id)
    assert resend is not None and resend.object_id_text == "9,10,11,12"
    assert deliver(router, resend) == event_id + 1
    assert router.held() == 0


def test_a_channel_never_has_two_pushes_in_flight_without_throttling() -> None:
    router = EventRouter(throttling=False)
    router.subscribe(sub())
    (first,) = router.publish("INSTANCE_STARTED", 1)
    assert router.publish("INSTANCE_STARTED", 2) == []
    assert router.publish("INSTANCE_STARTED", 3) == []
    event_id, following = router.finish(first)
    assert event_id == 1
    assert following is not None and following.object_ids == (2, 3)
    assert router.finish(following) == (2, None)
    assert router.publish("INSTANCE_STARTED", 4)[0].object_ids == (4,)  # no ack needed


def test_object_zero_events_are_held_without_ids() -> None:
    router = EventRouter()
    router.subscribe(sub("TAG_CREATED"))
    (first,) = router.publish("TAG_CREATED", 0)
    assert router.publish("TAG_CREATED", 0) == []
    resend = router.ack(deliver(router, first))
    assert resend is not None and resend.object_ids == ()


def test_subscriptions_sharing_command_and_external_id_share_a_channel() -> None:
    router = EventRouter()
    router.subscribe(sub("INSTANCE_STARTED", external_id=4))
    router.subscribe(sub("INSTANCE_STARTED", object_id=7, external_id=4))
    router.subscribe(sub("INSTANCE_TERMINATED", external_id=4))
    (push,) = router.publish("INSTANCE_STARTED", 7)  # two matches, one channel, one push
    assert router.publish("INSTANCE_TERMINATED", 8) == []  # same channel, busy
    resend = router.ack(deliver(router, push))
    assert resend is not None and resend.object_ids == (8,)


def test_distinct_external_ids_are_throttled_separately() -> None:
    router = EventRouter()
    router.subscribe(sub(external_id=1))
    router.subscribe(sub(external_id=2))
    assert [p.external_id for p in router.publish("INSTANCE_STARTED", 1)] == [1, 2]


def test_event_ids_count_from_one_in_completion_order() -> None:
    router = EventRouter()
    router.subscribe(sub(external_id=1))
    router.subscribe(sub(external_id=2))
    a, b = router.publish("INSTANCE_STARTED", 1)
    assert deliver(router, b) == 1
    assert deliver(router, a) == 2


def test_unsubscribe_matches_object_exactly_and_external_id_when_given() -> None:
    router = EventRouter()
    router.subscribe(sub(object_id=0, external_id=1))
    router.subscribe(sub(object_id=5, external_id=2))
    router.subscribe(sub(object_id=5, external_id=3))
    assert router.unsubscribe("INSTANCE_STARTED", 5, 2) == 1
    assert router.unsubscribe("INSTANCE_STARTED", 7) == 0
    assert router.unsubscribe("INSTANCE_STARTED", 5) == 1
    assert router.unsubscribe("NO_SUCH_TYPE") == 0
    assert [p.external_id for p in router.publish("INSTANCE_STARTED", 5)] == [1]
    assert len(router) == 1


def test_unsubscribed_channel_discards_its_push_in_flight() -> None:
    router = EventRouter()
    router.subscribe(sub(external_id=1))
    router.subscribe(sub(external_id=2))
    first, second = router.publish("INSTANCE_STARTED", 1)
    assert router.unsubscribe("INSTANCE_STARTED", 0, 1) == 1
    assert router.finish(first) == (None, None)
    # The other channel keeps its state: still throttled after its push.
    event_id = deliver(router, second)
    assert router.publish("INSTANCE_STARTED", 2) == []
    assert router.ack(event_id) is not None


def test_unsubscribe_all_and_resubscribe_starts_clean() -> None:
    router = EventRouter()
    router.subscribe(sub(external_id=1))
    router.subscribe(sub("TASK_EXECUTE", external_id=2))
    (push,) = router.publish("INSTANCE_STARTED", 1)
    event_id = deliver(router, push)
    assert router.unsubscribe_all() == 2
    assert len(router) == 0
    assert router.ack(event_id) is None
    router.subscribe(sub(external_id=1))
    assert len(router.publish("INSTANCE_STARTED", 3)) == 1


def test_subscription_limit() -> None:
    router = EventRouter(max_subscriptions=2)
    router.subscribe(sub(external_id=1))
    router.subscribe(sub(external_id=2))
    with pytest.raises(TooManySubscriptions):
        router.subscribe(sub(external_id=3))


def test_held_ids_are_bounded_but_the_push_still_happens() -> None:
    router = EventRouter()
    router.subscribe(sub())
    (first,) = router.publish("INSTANCE_STARTED", 1)
    for object_id in range(2, MAX_HELD_IDS + 10):
        router.publish("INSTANCE_STARTED", object_id)
    resend = router.ack(deliver(router, first))
    assert resend is not None and len(resend.object_ids) == MAX_HELD_IDS


def test_subscription_type_is_checked_when_built() -> None:
    with pytest.raises(ValueError):
        Subscription("NO_SUCH_EVENT", PING)  # type: ignore[arg-type]
