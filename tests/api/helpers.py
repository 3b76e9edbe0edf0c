"""Run API commands against a real database and read the responses back as XML.

``Api`` wraps a :class:`~evqueue.api.dispatch.Dispatcher` over the definition command groups
and an :class:`~evqueue.api.context.ApiContext` on the test's database. Commands are literal
XML, exactly as a client sends them; responses are serialized with the node name ``node1`` and
parsed again, so tests see what goes on the wire. ``changed`` records the modules reported.
Commands publish their events as on a node (:mod:`evqueue.api.change_events`) on the bus of
``ctx.services.events``, when a test gives one.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from types import ModuleType

from lxml import etree

from evqueue.api import (
    notification,
    queue,
    retry_schedule,
    storage_module,
    tag,
    user,
    workflow,
    workflow_schedule,
)
from evqueue.api.change_events import publishing
from evqueue.api.context import ApiContext
from evqueue.api.dispatch import Dispatcher
from evqueue.api.session import Session, User, WorkflowRights
from evqueue.config import Config
from evqueue.protocol import parse_command, serialize
from evqueue.storage import Database

__all__ = ["ADMIN", "Api", "DEFINITION_MODULES", "b64", "plain_user", "wf_xml"]

DEFINITION_MODULES: tuple[ModuleType, ...] = (
    workflow, queue, retry_schedule, workflow_schedule, user, tag, notification, storage_module,
)

#: An ADMIN session. Its id names no stored user: ids are not reset between tests, so a test
#: that needs the seeded ``admin`` itself looks its id up.
ADMIN = User(id=0, login="admin", profile="ADMIN")


def plain_user(user_id: int = 50, rights: dict[int, WorkflowRights] | None = None,
               modules: Iterable[tuple[str, str, int]] = ()) -> User:
    """A USER-profile account with the given workflow and module rights."""
    return User(id=user_id, login=f"user{user_id}", profile="USER", rights=rights or {},
                modules=frozenset(modules))


def b64(text: str | bytes) -> str:
    """Base64 of text (UTF-8) or bytes."""
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def wf_xml(queue_name: str = "default", parameters: Iterable[str] = (), extra: str = "") -> str:
    """A small valid workflow definition using ``queue_name``."""
    params = "".join(f'<parameter name="{name}"/>' for name in parameters)
    return (
        f"<workflow><parameters>{params}</parameters><subjobs><job name=\"j\"><tasks>"
        f"<task path=\"/bin/true\" queue=\"{queue_name}\"{extra}/></tasks></job></subjobs>"
        "</workflow>"
    )


class Api:
    """A dispatcher over the definition groups, on a real database."""

    def __init__(self, db: Database, modules: Iterable[ModuleType] = DEFINITION_MODULES,
                 cfg: Config | None = None) -> None:
        self.changed: list[str] = []
        #: ids of objects a fixture created, by name (ids are not reset between tests)
        self.ids: dict[str, int] = {}

        async def changed(module: str) -> None:
            self.changed.append(module)

        self.ctx = ApiContext(cfg=cfg or Config.defaults(), db=db, changed=changed)
        self.dispatcher = Dispatcher(publishing([module.routes for module in modules]))

    async def raw(self, xml: str, as_user: User = ADMIN) -> bytes:
        """Send one command as ``as_user``; returns the response bytes (unframed)."""
        response = await self.dispatcher.dispatch(self.ctx, Session(as_user), parse_command(xml))
        return serialize(response, node="node1")

    async def call(self, xml: str, as_user: User = ADMIN) -> etree._Element:
        """Send one command as ``as_user``; returns the parsed ``<response>``."""
        return etree.fromstring(await self.raw(xml, as_user))

    async def ok(self, xml: str, as_user: User = ADMIN) -> etree._Element:
        """Send a command that must succeed; returns the response."""
        root = await self.call(xml, as_user)
        assert root.get("status") == "OK", etree.tostring(root)
        assert root.get("node") == "node1"
        return root

    async def ko(self, xml: str, code: str | None, message: str | None = None,
                 as_user: User = ADMIN) -> etree._Element:
        """Send a command that must fail with ``code`` (and ``message`` when given)."""
        root = await self.call(xml, as_user)
        assert root.get("status") == "KO", etree.tostring(root)
        assert root.get("error-code") == code, etree.tostring(root)
        if message is not None:
            assert root.get("error") == message, etree.tostring(root)
        return root
