"""Subscriptions and push throttling of the websocket ``events`` protocol, sans I/O.

One :class:`EventRouter` per ``events`` connection (protocol.md §6). It only decides *what* to
push and *when*; the connection runs the API commands and writes the frames.

Rules:

- A :class:`Subscription` is (type, object id, external id, API command). Object id 0 matches
  every object of that type; any other value matches that object only.
- Subscriptions that share (API command, external id) share one *channel*: evQueue's throttling
  key. An event triggers each matching channel once, however many of its subscriptions match.
- A channel pushes when it is *idle*: no push of it is being computed, and, with throttling,
  its last push has been acknowledged (``<event action="ack" event_id=N/>``). Triggers that
  arrive while it is busy are *held*: their object ids are merged, in arrival order and without
  repeats, into the channel's next push (``object-id="9,10,11"``). A held trigger is never lost,
  and a channel never has two pushes in flight.
- Event ids are this connection's: 1, 2, … in the order pushes are completed (:meth:`finish`).
- Unsubscribing removes subscriptions; a channel left without subscription is closed, and the
  result of a push it had in flight is discarded. Other channels keep their throttling state.
- Bounds: at most ``max_subscriptions`` subscriptions and :data:`MAX_HELD_IDS` held object ids
  per channel (ids beyond that are dropped from the list, the push itself still happens).

No sockets, tasks or clock here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from evqueue.engine.events import EventType

__all__ = [
    "MAX_HELD_IDS",
    "MAX_SUBSCRIPTIONS",
    "Channel",
    "EventRouter",
    "Push",
    "Subscription",
    "TooManySubscriptions",
]

#: Default limit of subscriptions on one connection (the web UI uses a few dozen).
MAX_SUBSCRIPTIONS = 10_000
#: Limit of object ids merged into one push.
MAX_HELD_IDS = 100_000


class TooManySubscriptions(Exception):
    """A connection tried to exceed its subscription limit."""


@dataclass(frozen=True)
class Subscription:
    """What a client asked to be told about, and the command whose answer it wants.

    Attributes:
        type: the event type.
        api_cmd: the API command (decoded XML) run for each push.
        object_id: the object watched, 0 for any.
        external_id: the client's identifier, copied to each push as ``external-id``.
    """

    type: EventType
    api_cmd: bytes
    object_id: int = 0
    external_id: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", EventType(self.type))

    @property
    def channel_key(self) -> tuple[bytes, int]:
        """The throttling key: (API command, external id)."""
        return (self.api_cmd, self.external_id)

    def matches(self, type: EventType, object_id: int) -> bool:
        """Whether an event of ``type`` about ``object_id`` concerns this subscription."""
        return self.type == type and self.object_id in (0, object_id)


@dataclass(eq=False)
class Channel:
    """The push state of one (API command, external id)."""

    api_cmd: bytes
    external_id: int
    #: object ids of held triggers, in order (a dict used as an ordered set)
    held: dict[int, None] = field(default_factory=dict)
    #: a trigger is held (possibly with object id 0, which adds nothing to ``held``)
    triggered: bool = False
    #: a push is being computed
    running: bool = False
    #: event id of the push awaiting acknowledgement (throttling only)
    unacked: int | None = None
    #: no subscription uses this channel any more
    closed: bool = False

    @property
    def idle(self) -> bool:
        """Whether a push may start now."""
        return not self.running and self.unacked is None and not self.closed

    def hold(self, object_id: int) -> None:
        """Record a trigger about ``object_id`` (0: no particular object)."""
        self.triggered = True
        if object_id and len(self.held) < MAX_HELD_IDS:
            self.held[object_id] = None

    def take(self) -> Push | None:
        """Start a push of the held triggers, if there are some and the channel is idle."""
        if not (self.triggered and self.idle):
            return None
        push = Push(self, tuple(self.held))
        self.held = {}
        self.triggered = False
        self.running = True
        return push


@dataclass(frozen=True, eq=False)
class Push:
    """One push to perform: run ``api_cmd``, then send its answer with the event ids."""

    channel: Channel
    object_ids: tuple[int, ...]

    @property
    def api_cmd(self) -> bytes:
        """The command to run."""
        return self.channel.api_cmd

    @property
    def external_id(self) -> int:
        """The ``external-id`` of the push."""
        return self.channel.external_id

    @property
    def object_id_text(self) -> str:
        """The ``object-id`` attribute: merged ids, comma separated ("" for none)."""
        return ",".join(str(i) for i in self.object_ids)


class EventRouter:
    """The subscriptions of one connection and the throttling of their pushes.

    Args:
        throttling: hold pushes until acknowledged (``ws.events.throttling``).
        max_subscriptions: subscriptions allowed on the connection.
    """

    def __init__(self, *, throttling: bool = True,
                 max_subscriptions: int = MAX_SUBSCRIPTIONS) -> None:
        self.throttling = throttling
        self.max_subscriptions = max_subscriptions
        self._subscriptions: dict[EventType, list[Subscription]] = {}
        self._channels: dict[tuple[bytes, int], Channel] = {}
        self._users: dict[tuple[bytes, int], int] = {}  # subscriptions per channel
        self._unacked: dict[int, Channel] = {}  # event id -> channel awaiting its ack
        self._count = 0
        self._last_event_id = 0

    def __len__(self) -> int:
        """The number of subscriptions."""
        return self._count

    # --- subscriptions ------------------------------------------------------------------------

    def subscribe(self, sub: Subscription, *, send_now: bool = False) -> Push | None:
        """Add a subscription; with ``send_now``, trigger it at once (about its object id).

        Returns:
            The push to perform now, if any.

        Raises:
            TooManySubscriptions: the connection already has ``max_subscriptions``.
        """
        if self._count >= self.max_subscriptions:
            raise TooManySubscriptions(f"Too many subscriptions (limit {self.max_subscriptions})")
        self._subscriptions.setdefault(sub.type, []).append(sub)
        key = sub.channel_key
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = Channel(sub.api_cmd, sub.external_id)
        self._users[key] = self._users.get(key, 0) + 1
        self._count += 1
        if not send_now:
            return None
        channel.hold(sub.object_id)
        return channel.take()

    def unsubscribe(self, type: EventType | str, object_id: int = 0, external_id: int = 0) -> int:
        """Remove the subscriptions of ``type`` on exactly ``object_id`` (and ``external_id``
        unless it is 0), as evQueue does.

        Returns:
            How many subscriptions were removed.
        """
        try:
            type = EventType(type)
        except ValueError:
            return 0
        subs = self._subscriptions.get(type, [])
        removed = [s for s in subs if s.object_id == object_id
                   and external_id in (0, s.external_id)]
        self._remove(type, removed)
        return len(removed)

    def unsubscribe_all(self) -> int:
        """Remove every subscription; returns how many there were."""
        count = self._count
        for type, subs in list(self._subscriptions.items()):
            self._remove(type, list(subs))
        return count

    def _remove(self, type: EventType, removed: Iterable[Subscription]) -> None:
        subs = self._subscriptions.get(type, [])
        for sub in removed:
            subs.remove(sub)
            self._count -= 1
            key = sub.channel_key
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                channel = self._channels.pop(key)
                channel.closed = True
                if channel.unacked is not None:
                    del self._unacked[channel.unacked]
        if not subs:
            self._subscriptions.pop(type, None)

    # --- events and acknowledgements ---------------------------------------------------------

    def publish(self, type: EventType | str, object_id: int = 0) -> list[Push]:
        """Trigger every channel with a subscription matching the event.

        Returns:
            The pushes to perform now (channels that were idle), in subscription order.
        """
        try:
            type = EventType(type)
        except ValueError:
            return []
        triggered: dict[int, Channel] = {}
        for sub in self._subscriptions.get(type, ()):
            if sub.matches(type, object_id):
                channel = self._channels[sub.channel_key]
                triggered.setdefault(id(channel), channel)
        pushes = []
        for channel in triggered.values():
            channel.hold(object_id)
            push = channel.take()
            if push is not None:
                pushes.append(push)
        return pushes

    def finish(self, push: Push) -> tuple[int | None, Push | None]:
        """Record that the answer of ``push`` is ready to be sent.

        Returns:
            The event id to send it with (None: the channel was closed meanwhile, discard the
            answer), and the channel's next push when it may start at once (no throttling and
            triggers held meanwhile).
        """
        channel = push.channel
        channel.running = False
        if channel.closed:
            return None, None
        self._last_event_id += 1
        event_id = self._last_event_id
        if self.throttling:
            channel.unacked = event_id
            self._unacked[event_id] = channel
        return event_id, channel.take()

    def ack(self, event_id: int) -> Push | None:
        """Acknowledge a push; returns the push of the triggers held meanwhile, if any."""
        channel = self._unacked.pop(event_id, None)
        if channel is None:
            return None
        channel.unacked = None
        return channel.take()

    def held(self) -> int:
        """How many channels hold triggers not pushed yet (for tests and diagnostics)."""
        return sum(1 for channel in self._channels.values() if channel.triggered)
