"""Turns of overlapping launches (api/pipelining.py): each takes its turn after every one
before it did, even when one between them gave its turn up early."""

from __future__ import annotations

import asyncio

from evqueue.api.pipelining import Turn, overlappable
from evqueue.protocol import Command


async def test_turns_are_taken_in_order_even_when_one_gives_up_early() -> None:
    first = Turn(None)
    second = Turn(first)
    third = Turn(second)
    order: list[str] = []

    async def take(name: str, turn: Turn) -> None:
        await turn.wait()
        order.append(name)
        turn.taken()

    waiting = asyncio.ensure_future(take("third", third))
    second.taken()  # the second command failed before its turn came
    await asyncio.sleep(0.01)
    assert order == [] and not third.done
    await take("first", first)
    await waiting
    assert order == ["first", "third"]


def command(xml_attrs: dict[str, str]) -> Command:
    return Command(group="instance", action=xml_attrs.get("action"), attrs=xml_attrs)


def test_only_asynchronous_launches_overlap() -> None:
    assert overlappable(command({"action": "launch", "name": "w"}))
    assert overlappable(command({"action": "launch", "name": "w", "mode": "asynchronous"}))
    assert not overlappable(command({"action": "launch", "name": "w", "mode": "synchronous"}))
    assert not overlappable(command({"action": "query", "id": "1"}))
