"""evqueue.client: talk to a node's XML API, blocking (:mod:`.sync`) or with asyncio (:mod:`.aio`).

Both clients share the sans-I/O core of :mod:`.core`: login, keepalive pings skipped,
KO responses raised as the :class:`~evqueue.protocol.ApiError` subclass of their error-code.

Example::

    with Client("tcp://localhost:5000", "admin", "admin") as client:
        print(client.exec("<ping/>").get("uptime"))
"""

from evqueue.client.aio import AsyncClient
from evqueue.client.core import ClientProtocol, ConnectionClosed, command_bytes, hmac_key
from evqueue.client.sync import Client

__all__ = ["AsyncClient", "Client", "ClientProtocol", "ConnectionClosed", "command_bytes",
           "hmac_key"]
