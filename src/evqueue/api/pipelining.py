"""Which commands of one connection may run while the ones before them still wait.

A connection answers its commands in the order they came, and runs them one after the other,
with one exception that pipelining clients need: a run of asynchronous launches. Rules:

- :func:`overlappable`: an ``<instance action="launch">`` that is not synchronous.
- The launches of such a run start together, each with its :class:`Turn`: the engine has each
  ask for its instance id (its row) only after the launch before it did, so ids follow the
  order of the commands while the launches wait for the store together and share its
  transactions, instead of one commit each.
- Any other command (and a launch past the connection's limit) starts once every command
  before it is done, so what it reads or changes is what it would have been one at a time.
- The connection (``evqueue.server``) gives each overlapping command its turn (:data:`TURN`,
  in the command's context); the handler passes :func:`current_turn` on to the engine. A
  command that ends without taking its turn (an error) gives it up as it ends.
"""

from __future__ import annotations

import asyncio
import contextvars

from evqueue.protocol import Command

__all__ = ["TURN", "Turn", "current_turn", "overlappable"]


class Turn:
    """One launch's place in its connection's order (the engine's ``LaunchTurn``).

    Args:
        previous: the turn of the command before, if it may still be waiting for it.
    """

    def __init__(self, previous: Turn | None) -> None:
        self._previous = previous
        self._taken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        """Return once the commands before this one took their turn (at once if they did)."""
        if self._previous is not None:
            await self._previous._taken
            self._previous = None  # a long run does not keep a chain of every turn

    def taken(self) -> None:
        """This command took its turn, or gave it up (it ended without): the next one may take
        its own once every command before this one took theirs too."""
        previous = self._previous
        if previous is not None and not previous._taken.done():
            # Given up before its own turn came (an error): passed on in order all the same.
            previous._taken.add_done_callback(lambda _: self._release())
        else:
            self._release()

    def _release(self) -> None:
        self._previous = None
        if not self._taken.done():
            self._taken.set_result(None)

    @property
    def done(self) -> bool:
        """Whether this turn was taken."""
        return self._taken.done()


#: The turn of the command running in this context, if it runs overlapped.
TURN: contextvars.ContextVar[Turn | None] = contextvars.ContextVar("evqueue_turn",
                                                                  default=None)


def overlappable(command: Command) -> bool:
    """Whether the next command may start while this one waits (see the module rules)."""
    return (command.group == "instance" and command.action == "launch"
            and command.attrs.get("mode", "asynchronous") == "asynchronous")


def current_turn() -> Turn | None:
    """The turn of the running command (None when it runs on its own)."""
    return TURN.get()
