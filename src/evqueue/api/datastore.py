"""``<datastore action="get" id=N/>``: a task output too large for the instance XML.

Rules (protocol.md §4.5, evQueue's ``Datastore``):

- No right is needed, as in evQueue. An unknown id is "Unknown datastore entry" (no code).
- With ``datastore.gzip.enable`` the root gets ``gzip="yes"`` and its text is
  base64(gzip(value)) compressed at ``datastore.gzip.level``; otherwise ``gzip="no"`` and the
  value as text.
"""

from __future__ import annotations

import base64
import gzip

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.protocol import ApiError, Command, Response
from evqueue.storage.datastore import get_datastore

__all__ = ["encode_value", "routes"]

routes = CommandTable()


def encode_value(value: str, level: int) -> str:
    """base64 of the gzip stream of ``value`` (UTF-8), as evQueue sends it."""
    # mtime=0: the same value always gives the same bytes.
    compressed = gzip.compress(value.encode("utf-8"), compresslevel=level, mtime=0)
    return base64.b64encode(compressed).decode("ascii")


@routes.command("datastore", "get")
async def datastore_get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Return one datastore entry, gzipped and base64-encoded when configured."""
    value = await get_datastore(ctx.db, cmd.get_int("id"))
    if value is None:
        raise ApiError("Unknown datastore entry")
    if ctx.cfg["datastore.gzip.enable"]:
        return Response.success({"gzip": "yes"},
                                [encode_value(value, ctx.cfg["datastore.gzip.level"])])
    return Response.success({"gzip": "no"}, [value])
