"""ping, status, statistics, control and xpath through the dispatcher, as a client sees them."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field, replace

import pytest
from lxml import etree

from evqueue.api.context import ApiContext, Services
from evqueue.api.dispatch import Dispatcher
from evqueue.api.session import ANONYMOUS, Session, User
from evqueue.api.tools import global_statistics, routes
from evqueue.config import Config
from evqueue.engine import EngineStatistics, QueueFigures
from evqueue.protocol import Command, serialize

ADMIN = Session(ANONYMOUS)
USER = Session(User(id=5, login="bob", profile="USER"))


@dataclass
class FakeInstance:
    workflow_id: int


@dataclass
class FakeEngine:
    stats: EngineStatistics = field(default_factory=EngineStatistics)
    flushed: int = 0
    #: instance id → workflow id of the instances running
    running: dict[int, int] = field(default_factory=dict)

    def flush_retries(self) -> int:
        self.flushed += 1
        return 0

    def status(self, limit: int) -> tuple[int, list[etree._Element]]:
        return len(self.running), [etree.Element("workflow", id=str(i)) for i in self.running]

    def instance(self, instance_id: int) -> FakeInstance | None:
        workflow_id = self.running.get(instance_id)
        return None if workflow_id is None else FakeInstance(workflow_id)

    def queue_statistics(self) -> list[QueueFigures]:
        return [QueueFigures("default", 2, 1, 0, "default")]


def with_engine(ctx: ApiContext, engine: FakeEngine) -> None:
    ctx.services = replace(ctx.services, engine=engine)  # type: ignore[arg-type]


@pytest.fixture
def ctx(db):
    cfg = Config.from_mapping({"cluster.node.name": "node1", "mysql.password": "hush",
                               "database.url": "postgresql://evq:pw@db/evq"})
    return ApiContext(cfg=cfg, db=db)


async def call(ctx: ApiContext, xml: str, session: Session = ADMIN) -> etree._Element:
    command = Command.from_element(etree.fromstring(xml))
    response = await Dispatcher([routes]).dispatch(ctx, session, command)
    return etree.fromstring(serialize(response, node="node1"))


def error(reply: etree._Element) -> tuple[str | None, str | None]:
    return reply.get("error"), reply.get("error-code")


async def test_ping_answers_any_action_and_any_user(ctx):
    for xml in ("<ping/>", "<ping action='whatever' a='1'/>"):
        reply = await call(ctx, xml, USER)
        assert dict(reply.attrib) == {"git-support": "disabled", "node": "node1", "status": "OK",
                                      "uptime": "0", "version": "3.3"}
    ctx.modules = ("git", "storage")
    assert (await call(ctx, "<ping/>")).get("git-support") == "enabled"


async def test_status_configuration_is_sorted_and_masked(ctx):
    reply = await call(ctx, "<status action='query' type='configuration'/>")
    entries = reply.findall("configuration/entry")
    names = [entry.get("name") for entry in entries]
    assert names == sorted(names) and "network.bind.port" in names
    values = {entry.get("name"): entry.get("value") for entry in entries}
    assert values["mysql.password"] == "****"
    assert values["cluster.notify.password"] == "****", "an empty password is masked too"
    assert values["database.url"] == "postgresql://evq:****@db/evq"
    assert values["cluster.node.name"] == "node1"
    assert ctx.stats.statistics_queries == 1


async def test_status_errors(ctx):
    assert error(await call(ctx, "<status/>")) == ("Missing 'action' attribute",
                                                    "MISSING_PARAMETER")
    assert error(await call(ctx, "<status action='query'/>")) == ("Missing 'type' attribute",
                                                                   "MISSING_PARAMETER")
    assert error(await call(ctx, "<status action='query' type='queue'/>")) == (
        "Unknown type", "UNKNOWN_TYPE")
    assert error(await call(ctx, "<status action='list'/>")) == (
        "Unknown command or action", "UNKNOWN_COMMAND")
    assert error(await call(ctx, "<status action='query' type='configuration'/>", USER)) == (
        "insufficient rights", "INSUFFICIENT_RIGHTS")


async def test_status_workflows_needs_the_engine_and_lists_what_the_user_may_read(ctx):
    assert error(await call(ctx, "<status action='query' type='workflows'/>", USER)) == (
        "Unknown type", "UNKNOWN_TYPE")
    with_engine(ctx, FakeEngine(running={7: 1, 8: 2}))
    reply = await call(ctx, "<status action='query' type='workflows'/>", USER)
    assert (reply.get("status"), reply.get("count")) == ("OK", "2")
    assert [w.get("id") for w in reply] == [], "bob may read no workflow"
    reply = await call(ctx, "<status action='query' type='workflows'/>")
    assert [w.get("id") for w in reply] == ["7", "8"]
    assert ctx.stats.workflow_status_queries == 2


async def test_statistics_global_lists_every_counter(ctx):
    reply = await call(ctx, "<statistics action='query' type='global'/>", USER)
    (statistics,) = reply
    assert set(statistics.attrib) == {
        "accepted_api_connections", "accepted_ws_connections", "api_exceptions", "api_queries",
        "current_api_connections", "current_ws_connections", "statistics_queries",
        "waiting_threads", "workflow_cancel_queries", "workflow_exceptions",
        "workflow_instance_errors", "workflow_instance_executing", "workflow_instance_launched",
        "workflow_queries", "workflow_status_queries", "ws_events", "ws_queries",
        "ws_subscriptions"}
    assert statistics.get("api_queries") == "1" and statistics.get("statistics_queries") == "1"


async def test_statistics_include_the_engine_and_reset_zeroes_both(ctx):
    engine = FakeEngine()
    engine.stats.workflow_instance_launched = 4
    engine.stats.workflow_instance_executing = 2
    with_engine(ctx, engine)
    ctx.stats.current_api_connections = 3
    assert global_statistics(ctx)["workflow_instance_launched"] == 4
    assert error(await call(ctx, "<statistics action='reset' type='global'/>", USER)) == (
        "insufficient rights", "INSUFFICIENT_RIGHTS")
    assert (await call(ctx, "<statistics action='reset' type='global'/>")).get("status") == "OK"
    values = global_statistics(ctx)
    assert values["workflow_instance_launched"] == 0 and values["api_queries"] == 0
    assert values["workflow_instance_executing"] == 2, "gauges survive a reset"
    assert values["current_api_connections"] == 3


async def test_statistics_errors_and_the_engine_queues(ctx):
    assert error(await call(ctx, "<statistics action='query' type='nosuch'/>")) == (
        "Unknown statistics type", "UNKNOWN_TYPE")
    assert error(await call(ctx, "<statistics action='reset' type='queue'/>")) == (
        "Unknown statistics type for this action", "UNKNOWN_TYPE")
    assert error(await call(ctx, "<statistics action='query' type='queue'/>")) == (
        "Unknown statistics type", "UNKNOWN_TYPE")
    assert ctx.stats.statistics_queries == 0
    with_engine(ctx, FakeEngine())
    reply = await call(ctx, "<statistics action='query' type='queue'/>")
    assert [dict(queue.attrib) for queue in reply[0]] == [
        {"name": "default", "concurrency": "2", "size": "1", "running_tasks": "0",
         "scheduler": "default"}]
    assert ctx.stats.statistics_queries == 1


async def test_control_reload_validates_reloads_and_notifies(ctx):
    calls: list[tuple[str, str]] = []

    async def reload(module: str) -> None:
        calls.append(("reload", module))

    async def changed(module: str) -> None:
        calls.append(("changed", module))

    ctx.reload, ctx.changed = reload, changed
    assert (await call(ctx, "<control action='reload'/>")).get("status") == "OK"
    assert (await call(ctx, "<control action='reload' module='tags' notify='no'/>")).get(
        "status") == "OK"
    # with notify, "changed" reloads here and tells the other nodes; without, a local reload only
    assert calls == [("changed", "all"), ("reload", "tags")]
    assert error(await call(ctx, "<control action='reload' module='channels'/>")) == (
        "Invalid module : channels", "INVALID_MODULE")
    assert error(await call(ctx, "<control action='reload' notify='maybe'/>")) == (
        "Attribute 'notify' has invalid boolean value", "INVALID_BOOLEAN")
    assert len(calls) == 2, "a refused reload calls nothing"


async def test_control_is_admin_only_before_the_action_is_read(ctx):
    for xml in ("<control action='reload'/>", "<control action='bogus'/>", "<control/>"):
        assert error(await call(ctx, xml, USER)) == ("insufficient rights",
                                                      "INSUFFICIENT_RIGHTS")
    assert error(await call(ctx, "<control action='bogus'/>")) == (
        "Unknown command or action", "UNKNOWN_COMMAND")


async def test_control_retry_and_syncnotifications_reach_their_parts(ctx):
    assert (await call(ctx, "<control action='retry'/>")).get("status") == "OK"
    engine = FakeEngine()
    with_engine(ctx, engine)
    await call(ctx, "<control action='retry'/>")
    assert engine.flushed == 1

    synced: list[bool] = []

    async def sync(notify: bool) -> None:
        synced.append(notify)

    assert (await call(ctx, "<control action='syncnotifications'/>")).get("status") == "OK"
    ctx.services = Services(sync_notifications=sync)
    await call(ctx, "<control action='syncnotifications'/>")
    await call(ctx, "<control action='syncnotifications' notify='no'/>")
    assert synced == [True, False]


async def test_control_shutdown_signals_the_node_itself(ctx):
    loop = asyncio.get_running_loop()
    received = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, received.set)
    try:
        assert (await call(ctx, "<control action='shutdown'/>")).get("status") == "OK"
        await asyncio.wait_for(received.wait(), 5)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def test_xpath_parse(ctx):
    good = await call(ctx, "<xpath action='parse' expression=\"evqGetParentJob(0)/"
                           "evqGetOutput('t')\"/>", USER)
    assert dict(good.attrib) == {"node": "node1", "status": "OK"}
    bad = await call(ctx, "<xpath action='parse' expression='/a/b['/>")
    assert bad.get("status") == "OK" and bad.get("parse-error")
    assert error(await call(ctx, "<xpath action='parse'/>")) == (
        "Missing 'expression' attribute", "MISSING_PARAMETER")
