"""A minimal SMTP server for the tests: accepts every message and keeps it.

It speaks just enough SMTP for :mod:`smtplib` (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
QUIT) on 127.0.0.1, with asyncio streams; received messages are parsed with :mod:`email`.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage

__all__ = ["Received", "SmtpSink"]


@dataclass
class Received:
    """One message accepted by the sink."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    login: tuple[str, str] | None


@dataclass
class SmtpSink:
    """``async with SmtpSink() as sink``: serves on ``sink.port`` until the block ends."""

    messages: list[Received] = field(default_factory=list)
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> SmtpSink:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        sender, recipients, login = "", [], None
        reply("220 sink ESMTP")
        while line := await reader.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                reply("250-sink")
                reply("250 AUTH PLAIN")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(command.split()[2]).split(b"\0")
                login = (user.decode(), password.decode())
                reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                sender = command.split(":", 1)[1].strip().strip("<>").split(">")[0]
                reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                reply("250 OK")
            elif verb == "DATA":
                reply("354 go ahead")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                parsed = email.message_from_bytes(data[:-5], policy=email.policy.default)
                self.messages.append(Received(sender, recipients, parsed, login))
                self.arrived.set()
                reply("250 OK queued")
            elif verb == "QUIT":
                reply("221 bye")
                await writer.drain()
                break
            else:
                reply("250 OK")
            await writer.drain()
        writer.close()
