"""``datastore get``: gzip + base64 when enabled, raw text otherwise."""

from __future__ import annotations

import base64
import gzip

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.datastore import routes
from evqueue.api.dispatch import Dispatcher
from evqueue.api.session import Session, User
from evqueue.config import Config
from evqueue.protocol import Command, serialize
from evqueue.storage.datastore import store_datastore

USER = Session(User(id=9, login="bob", profile="USER"))  # no right needed, as in evQueue


async def call(ctx: ApiContext, xml: str) -> etree._Element:
    command = Command.from_element(etree.fromstring(xml))
    response = await Dispatcher([routes]).dispatch(ctx, USER, command)
    return etree.fromstring(serialize(response, node="node1"))


async def test_gzipped_by_default(db):
    ctx = ApiContext(cfg=Config.from_mapping({}), db=db)
    value = "line\n" * 1000 + "é"
    entry = await store_datastore(db, 1, value)
    reply = await call(ctx, f"<datastore action='get' id='{entry}'/>")
    assert reply.get("gzip") == "yes"
    assert gzip.decompress(base64.b64decode(reply.text)).decode() == value
    assert len(reply.text) < len(value) / 10


async def test_raw_when_gzip_is_disabled(db):
    ctx = ApiContext(cfg=Config.from_mapping({"datastore.gzip.enable": "no"}), db=db)
    entry = await store_datastore(db, 1, "<out>a & b</out>")
    reply = await call(ctx, f"<datastore action='get' id='{entry}'/>")
    assert (reply.get("gzip"), reply.text) == ("no", "<out>a & b</out>")


async def test_unknown_entry_and_bad_id(db):
    ctx = ApiContext(cfg=Config.from_mapping({}), db=db)
    unknown = await call(ctx, "<datastore action='get' id='12345'/>")
    assert dict(unknown.attrib) == {"error": "Unknown datastore entry", "node": "node1",
                                    "status": "KO"}
    missing = await call(ctx, "<datastore action='get'/>")
    assert missing.get("error") == "Missing 'id' attribute"
