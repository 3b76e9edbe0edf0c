"""``<cluster action="list"/>``: the live nodes of the registry, for any authenticated user."""

from __future__ import annotations

import datetime

from evqueue.api import cluster
from evqueue.storage.cluster import NODE_MAX_AGE, register_node
from evqueue.storage.timeutil import local_now
from tests.api.helpers import Api, plain_user


async def test_the_live_nodes_are_listed_with_what_the_web_ui_reads(db):
    now = local_now()
    await register_node(db, "bob", "unix:///data/bob/evqueue.socket", "ws://127.0.0.1:5101/",
                        "3.3", now=now)
    await register_node(db, "alice", "unix:///data/alice/evqueue.socket",
                        "ws://127.0.0.1:5100/", "3.3", now=now - datetime.timedelta(seconds=5))
    await register_node(db, "gone", "tcp://old:5000", "ws://old:5001/", "3.3",
                        now=now - datetime.timedelta(seconds=NODE_MAX_AGE + 5))
    api = Api(db, modules=[cluster])
    root = await api.ok('<cluster action="list"/>', as_user=plain_user())
    assert [dict(node.attrib) for node in root] == [
        {"name": "alice", "api": "unix:///data/alice/evqueue.socket",
         "ws": "ws://127.0.0.1:5100/", "version": "3.3",
         "started": (now - datetime.timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S"),
         "heartbeat": (now - datetime.timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S")},
        {"name": "bob", "api": "unix:///data/bob/evqueue.socket",
         "ws": "ws://127.0.0.1:5101/", "version": "3.3",
         "started": now.strftime("%Y-%m-%d %H:%M:%S"),
         "heartbeat": now.strftime("%Y-%m-%d %H:%M:%S")},
    ]


async def test_an_empty_registry_and_other_actions(db):
    api = Api(db, modules=[cluster])
    assert len(await api.ok('<cluster action="list"/>')) == 0
    await api.ko('<cluster action="join"/>', "UNKNOWN_COMMAND")
