"""``filesystem list``: entries under the tasks directory, never outside it, admins only."""

from __future__ import annotations

import os

import pytest
from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.dispatch import Dispatcher
from evqueue.api.filesystem import routes
from evqueue.api.session import ANONYMOUS, Session, User
from evqueue.config import Config
from evqueue.protocol import Command, serialize

ADMIN = Session(ANONYMOUS)


@pytest.fixture
def tasks(tmp_path):
    root = tmp_path / "tasks"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "job.sh").write_text("#!/bin/sh\n")
    (root / "readme").write_text("x")
    (root / ".hidden").write_text("x")
    os.symlink("/etc/passwd", root / "link")
    os.mkfifo(root / "fifo")
    (tmp_path / "secret").mkdir()
    return root


@pytest.fixture
def ctx(db, tasks):
    cfg = Config.from_mapping({"processmanager.tasks.directory": str(tasks)})
    return ApiContext(cfg=cfg, db=db)


async def call(ctx: ApiContext, xml: str, session: Session = ADMIN) -> etree._Element:
    command = Command.from_element(etree.fromstring(xml))
    response = await Dispatcher([routes]).dispatch(ctx, session, command)
    return etree.fromstring(serialize(response, node="node1"))


async def test_lists_entries_sorted_without_hidden_ones(ctx):
    reply = await call(ctx, "<filesystem action='list' path=''/>")
    assert [dict(e.attrib) for e in reply] == [
        {"name": "bin", "type": "directory"}, {"name": "fifo", "type": "unknown"},
        {"name": "link", "type": "file"}, {"name": "readme", "type": "file"}]
    sub = await call(ctx, "<filesystem action='list' path='bin/'/>")
    assert [e.get("name") for e in sub] == ["job.sh"]


async def test_paths_outside_the_tasks_directory_are_refused(ctx, tasks):
    for path in ("..", "../secret", "bin/../..", "/etc", "link/.."):
        reply = await call(ctx, f"<filesystem action='list' path='{path}'/>")
        assert (reply.get("error"), reply.get("error-code")) == (
            "Path is outside processmanager.tasks.directory", "INVALID_PARAMETER"), path
    inside = await call(ctx, f"<filesystem action='list' path='{tasks / 'bin'}'/>")
    assert [e.get("name") for e in inside] == ["job.sh"]


async def test_a_relative_tasks_directory_is_taken_from_core_wd(db, tasks):
    cfg = Config.from_mapping({"core.wd": str(tasks.parent),
                               "processmanager.tasks.directory": tasks.name})
    reply = await call(ApiContext(cfg=cfg, db=db), "<filesystem action='list' path='bin'/>")
    assert [e.get("name") for e in reply] == ["job.sh"]


async def test_errors(ctx):
    missing = await call(ctx, "<filesystem action='list' path='nosuch'/>")
    assert missing.get("error").startswith("Unable to open directory ")
    assert missing.get("error-code") is None
    user = Session(User(id=2, login="bob", profile="USER"))
    refused = await call(ctx, "<filesystem action='list' path=''/>", user)
    assert refused.get("error-code") == "INSUFFICIENT_RIGHTS"
