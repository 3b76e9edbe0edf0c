"""Every configuration key of evQueue 3.3, with its type, default and meaning.

Rules of this module:
- One row per key; the table is the only place a default lives.
- Defaults are the engine's code defaults (semantics.md §6.4), not its README's.
- Keys of our own are marked ``ours=True`` so docs and ``--help`` can tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["KEYS", "Key", "KeyType"]


class KeyType(Enum):
    """How a raw string value is checked and converted."""

    STRING = "string"
    PATH = "path"
    BOOL = "bool"
    INT = "int"
    UINT = "uint"
    SIZE = "size"
    UID = "uid"
    GID = "gid"
    IPC_KEY = "ipc-key"
    LOG_LEVEL = "log-level"


@dataclass(frozen=True)
class Key:
    """One configuration entry: its name, raw default, type and meaning."""

    name: str
    default: str
    type: KeyType
    doc: str
    ours: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


S, P, B, U, Z = KeyType.STRING, KeyType.PATH, KeyType.BOOL, KeyType.UINT, KeyType.SIZE

_ROWS: list[Key] = [
    # core
    Key("core.gid", "0", KeyType.GID, "setregid after chdir (number or group name; 0 = keep)"),
    Key("core.uid", "0", KeyType.UID, "setreuid after chdir (number or user name; 0 = keep)"),
    Key("core.wd", "", P, "working directory (chdir at start-up); base of relative paths"),
    Key("core.pidfile", "/tmp/evqueue-core.pid", P, "engine pidfile (locked while running)"),
    Key("core.ipc.qid", "0xEA023E3C", KeyType.IPC_KEY,
        "SysV message queue key: hex, decimal, or an existing path (ftok)"),
    Key("core.locale", "C.UTF-8", S, "locale of the engine"),
    Key("core.auth.enable", "yes", B, "challenge authentication on the API and websockets"),
    Key("core.auth.secret", "", P,
        "file holding the secret that wraps stored password hashes ('' = evQueue's plain SHA-1)",
        ours=True),
    Key("core.fastshutdown", "yes", B, "close client connections on exit"),
    # forker
    Key("forker.pidfile", "/tmp/evqueue-forker.pid", P, "forker pidfile"),
    Key("forker.pipes.directory", "/tmp", P, "directory of forker FIFOs"),
    Key("dpd.interval", "10", U, "seconds between dead-peer pings during long waits (0 = off)"),
    Key("queuepool.scheduler", "fifo", S, "scheduler used by 'default' queues",
        choices=("fifo", "prio")),
    # garbage collector
    Key("gc.enable", "yes", B, "garbage collector"),
    Key("gc.interval", "43200", U, "seconds between GC runs"),
    Key("gc.limit", "1000", U, "rows deleted per batch"),
    Key("gc.delay", "2", U, "seconds between batches"),
    Key("gc.logs.retention", "7", U, "days of engine logs kept"),
    Key("gc.logsapi.retention", "30", U, "days of API logs kept"),
    Key("gc.logsnotifications.retention", "30", U, "days of notification logs kept"),
    Key("gc.workflowinstance.retention", "30", U, "days of terminated instances kept"),
    Key("gc.uniqueaction.retention", "30", U, "days of election rows kept"),
    Key("gc.elogs.logs.retention", "90", U, "days of external logs kept", minimum=2),
    Key("gc.elogs.triggers.retention", "30", U, "days of alert triggers kept", minimum=2),
    # logging
    Key("logger.syslog.enable", "yes", B, "log to syslog"),
    Key("logger.syslog.filter", "LOG_NOTICE", KeyType.LOG_LEVEL, "lowest level sent to syslog"),
    Key("logger.db.enable", "yes", B, "log to the database (t_log)"),
    Key("logger.db.filter", "LOG_WARNING", KeyType.LOG_LEVEL, "lowest level written to t_log"),
    Key("loggerapi.enable", "yes", B, "log modifying API calls (t_log_api)"),
    # database
    Key("database.url", "", S,
        "SQLAlchemy URL of the definition store; empty: sqlite evqueue.db in core.wd, "
        "or MariaDB from mysql.* when mysql.user is set", ours=True),
    Key("mysql.host", "localhost", S, "MariaDB/MySQL host"),
    Key("mysql.user", "", S, "MariaDB/MySQL user (selects MariaDB when database.url is empty)"),
    Key("mysql.password", "", S, "MariaDB/MySQL password"),
    Key("mysql.database", "evqueue", S, "MariaDB/MySQL database"),
    # API network
    Key("network.bind.ip", "127.0.0.1", S, "API TCP address ('' disables, '*' = all)"),
    Key("network.bind.port", "5000", U, "API TCP port (0 = any free port)", maximum=65535),
    Key("network.bind.path", "", P, "API unix socket path ('' disables)"),
    Key("network.bind.path.mode", "0660", S, "permissions of the API unix socket (octal)",
        ours=True),
    Key("network.bind.path.owner", "0", KeyType.UID,
        "owner of the API unix socket (number or user name; 0 = the engine's user)", ours=True),
    Key("network.bind.path.group", "0", KeyType.GID,
        "group of the API unix socket (number or group name; 0 = the engine's group)",
        ours=True),
    Key("network.listen.backlog", "1024", U,
        "listen backlog (evQueue: 64; a burst of connections waits here, not in SYN retries)"),
    Key("network.connections.max", "1024", U,
        "maximum simultaneous API connections (evQueue: 128; the engine raises its open files "
        "limit to hold them); TCP may take all but one eighth (at least 1), "
        "kept for the unix socket, and at most half (rounded up) of each listener's may be "
        "waiting to log in"),
    Key("network.rcv.timeout", "30", U, "seconds an API connection may stay idle"),
    Key("network.login.timeout", "10", U,
        "seconds a connection may take to log in, from accept to greeting, on TCP, the unix "
        "socket and websockets (0 = no limit)", ours=True),
    Key("network.snd.timeout", "30", U, "seconds a send to an API client may take"),
    Key("network.message.maxsize", "16M", Z, "largest accepted API message", ours=True),
    # websockets
    Key("ws.bind.ip", "127.0.0.1", S, "websocket/HTTP address ('' disables, '*' = all)"),
    Key("ws.bind.port", "5001", U, "websocket/HTTP port", maximum=65535),
    Key("ws.connections.max", "128", U, "maximum simultaneous websocket connections"),
    Key("ws.listen.backlog", "1024", U, "listen backlog (evQueue: 64)"),
    Key("ws.http.connections.max", "64", U,
        "connections of the websocket/HTTP port beyond ws.connections.max websockets (web UI, "
        "/healthz, /metrics, handshakes); past the sum a connection is closed at accept",
        ours=True),
    Key("ws.http.timeout", "10", U,
        "seconds a connection of the websocket/HTTP port may take to send a request's headers "
        "or stay idle between requests (0 = no limit)", ours=True),
    Key("ws.rcv.timeout", "30", U, "websocket receive timeout (s)"),
    Key("ws.snd.timeout", "30", U, "websocket send timeout (s)"),
    Key("ws.keepalive", "30", U, "websocket keepalive (s)"),
    Key("ws.workers", "8", U, "websocket API workers"),
    Key("ws.events.throttling", "yes", B, "hold event pushes until the client acks"),
    Key("ws.ssl.crt", "", P, "TLS certificate for websockets (with ws.ssl.key)"),
    Key("ws.ssl.key", "", P, "TLS key for websockets (with ws.ssl.crt)"),
    Key("ws.origins", "", S, "allowed websocket Origin values, comma separated ('' = any)",
        ours=True),
    # notifications
    Key("notifications.tasks.directory", "/tmp", P, "where notification plugins are installed"),
    Key("notifications.tasks.timeout", "5", U, "seconds a notification may run"),
    Key("notifications.tasks.concurrency", "16", U, "notifications running at once"),
    Key("notifications.logs.directory", "/tmp", P, "notification output directory"),
    Key("notifications.logs.maxsize", "16K", Z, "notification output kept"),
    Key("notifications.logs.delete", "yes", B, "delete notification output files"),
    # process manager
    Key("processmanager.logs.directory", "/tmp", P, "task stdout/stderr/log files"),
    Key("processmanager.logs.delete", "yes", B, "delete task output files once read"),
    Key("processmanager.logs.tailsize", "20K", Z, "bytes returned by processmanager tail"),
    Key("processmanager.tasks.directory", ".", P, "prefix of relative task paths"),
    Key("processmanager.tasks.kill_leftovers", "no", B,
        "kill the processes a task leaves running when it ends (children it started with "
        "setsid, nohup, a double fork…); either way they are named in the task's log, and "
        "killing a task kills them all", ours=True),
    Key("processmanager.scripts.directory", "/tmp", P, "where SCRIPT tasks are written"),
    Key("processmanager.scripts.delete", "yes", B, "delete SCRIPT files after the run"),
    Key("processmanager.monitor.ssh_path", "/usr/bin/ssh", P, "ssh used for remote tasks"),
    Key("processmanager.monitor.ssh_key", "", P, "ssh key used for remote tasks"),
    Key("processmanager.agent.path", "/usr/bin/evqueue_agent", P, "remote agent path"),
    # datastore
    Key("datastore.dom.maxsize", "500K", Z, "larger outputs go to t_datastore"),
    Key("datastore.db.maxsize", "50M", Z, "larger outputs are truncated"),
    Key("datastore.gzip.enable", "yes", B, "gzip datastore values sent to clients"),
    Key("datastore.gzip.level", "9", U, "gzip level", maximum=9),
    # instances
    Key("workflowinstance.saveparameters", "yes", B, "store launch parameters (level >= 2)"),
    Key("workflowinstance.savepoint.level", "2", U, "0: none, 1: at end, 2: start+end, 3: all",
        maximum=3),
    Key("workflowinstance.savepoint.retry.enable", "yes", B, "retry failed savepoints"),
    Key("workflowinstance.savepoint.retry.times", "2", U, "extra tries (0 = forever)"),
    Key("workflowinstance.savepoint.retry.wait", "2", U, "seconds between tries"),
    Key("workflowinstance.max", "0", U,
        "instances running at once on this node; a launch past it is refused (0 = no limit)",
        ours=True),
    # cluster
    Key("cluster.node.name", "localhost", S, "unique name of this node"),
    Key("cluster.nodes", "", S, "comma-separated connection strings of every node"),
    Key("cluster.notify", "yes", B, "tell other nodes to reload after a change"),
    Key("cluster.notify.user", "", S, "user for cluster notifications"),
    Key("cluster.notify.password", "", S, "password for cluster notifications"),
    Key("cluster.cnx.timeout", "10", U, "connect timeout to other nodes (s)"),
    Key("cluster.rcv.timeout", "5", U, "receive timeout from other nodes (s)"),
    Key("cluster.snd.timeout", "5", U, "send timeout to other nodes (s)"),
    # git
    Key("git.repository", "", P, "git repository of workflows ('' disables)"),
    Key("git.user", "", S, "git remote user"),
    Key("git.password", "", S, "git remote password"),
    Key("git.public_key", "", P, "git public key"),
    Key("git.private_key", "", P, "git private key"),
    Key("git.signature.name", "evQueue", S, "commit author name"),
    Key("git.signature.email", "evqueue@local", S, "commit author e-mail"),
    Key("git.workflows.subdirectory", "workflows", S, "subdirectory of workflows"),
    # external logs
    Key("elog.enable", "no", B, "external logs module"),
    Key("elog.mysql.host", "localhost", S, "elogs MariaDB host"),
    Key("elog.mysql.user", "", S, "elogs MariaDB user"),
    Key("elog.mysql.password", "", S, "elogs MariaDB password"),
    Key("elog.mysql.database", "evqueue-elogs", S, "elogs database (not mysql.database)"),
    Key("elog.bind.ip", "*", S, "elogs UDP address"),
    Key("elog.bind.port", "5002", U, "elogs UDP port", maximum=65535),
    Key("elog.queue.size", "1000", U, "elogs queue size"),
    Key("elog.bulk.size", "500", U, "elogs bulk insert size"),
    Key("elog.log.maxsize", "4K", Z, "largest elogs line"),
]

#: Every key, by name.
KEYS: dict[str, Key] = {k.name: k for k in _ROWS}
