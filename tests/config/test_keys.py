"""The key table: every key of evQueue 3.3 is there with its documented default."""

from evqueue.config import KEYS

# A sample of semantics.md §6.4 rows where the code default differs from evQueue's README:
# the code default is the one a user of the original actually got.
CODE_DEFAULTS = {
    "core.pidfile": "/tmp/evqueue-core.pid",
    "logger.db.enable": "yes",
    "network.bind.path": "",
    "notifications.tasks.directory": "/tmp",
    "core.ipc.qid": "0xEA023E3C",
    "workflowinstance.savepoint.level": "2",
    "cluster.node.name": "localhost",
    "processmanager.tasks.directory": ".",
    "ws.bind.port": "5001",
    "network.bind.port": "5000",
}

EVQUEUE_KEYS = """core.gid core.uid core.wd core.pidfile core.ipc.qid core.locale core.auth.enable
core.fastshutdown forker.pidfile forker.pipes.directory dpd.interval queuepool.scheduler gc.enable
gc.interval gc.limit gc.delay gc.logs.retention gc.logsapi.retention
gc.logsnotifications.retention gc.workflowinstance.retention gc.uniqueaction.retention
logger.syslog.enable logger.syslog.filter logger.db.enable logger.db.filter loggerapi.enable
mysql.host mysql.user mysql.password mysql.database network.bind.ip network.bind.port
network.bind.path network.listen.backlog network.connections.max network.rcv.timeout
network.snd.timeout ws.bind.ip ws.bind.port ws.connections.max ws.listen.backlog ws.rcv.timeout
ws.snd.timeout ws.keepalive ws.workers ws.events.throttling ws.ssl.crt ws.ssl.key
notifications.tasks.directory notifications.tasks.timeout notifications.tasks.concurrency
notifications.logs.directory notifications.logs.maxsize notifications.logs.delete
processmanager.logs.directory processmanager.logs.delete processmanager.logs.tailsize
processmanager.tasks.directory processmanager.scripts.directory processmanager.scripts.delete
processmanager.monitor.ssh_path processmanager.monitor.ssh_key processmanager.agent.path
datastore.dom.maxsize datastore.db.maxsize datastore.gzip.enable datastore.gzip.level
workflowinstance.saveparameters workflowinstance.savepoint.level
workflowinstance.savepoint.retry.enable workflowinstance.savepoint.retry.times
workflowinstance.savepoint.retry.wait cluster.node.name cluster.nodes cluster.notify
cluster.notify.user cluster.notify.password cluster.cnx.timeout cluster.rcv.timeout
cluster.snd.timeout git.repository git.user git.password git.public_key git.private_key
git.signature.name git.signature.email git.workflows.subdirectory elog.enable elog.mysql.host
elog.mysql.user elog.mysql.password elog.mysql.database elog.bind.ip elog.bind.port
elog.queue.size elog.bulk.size elog.log.maxsize gc.elogs.logs.retention
gc.elogs.triggers.retention""".split()


def test_every_evqueue_key_exists():
    assert [key for key in EVQUEUE_KEYS if key not in KEYS] == []


def test_only_our_own_keys_are_extra():
    extra = {key for key, spec in KEYS.items() if key not in EVQUEUE_KEYS}
    assert extra == {key for key, spec in KEYS.items() if spec.ours}
    assert "database.url" in extra


def test_code_defaults():
    assert {key: KEYS[key].default for key in CODE_DEFAULTS} == CODE_DEFAULTS


def test_every_key_is_documented():
    assert [key for key, spec in KEYS.items() if not spec.doc] == []
