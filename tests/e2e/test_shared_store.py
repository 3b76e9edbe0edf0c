"""Two engines on one store (one SQLite file, or one PostgreSQL/MariaDB database)."""

import base64

import pytest

from evqueue.client.sync import Client

WORKFLOW = (b"<workflow><subjobs><job name='j'><tasks><task path='/bin/true' queue='default'/>"
            b"</tasks></job></subjobs></workflow>")

pytestmark = pytest.mark.backends


def test_two_engines_start_on_one_store_and_read_the_same_rows(make_node, db_url):
    first = make_node("node1", db_url=db_url).start()
    second = make_node("node2", db_url=db_url).start()
    content = base64.b64encode(WORKFLOW).decode()
    with Client(f"unix://{first.socket_path}", "admin", "admin") as client:
        created = client.exec(f"<workflow action='create' name='shared' group='g' "
                              f"content='{content}'/>")
        client.exec("<queue action='create' name='q2' concurrency='2' scheduler='fifo' "
                    "dynamic='no'/>")
    with Client(f"unix://{second.socket_path}", "admin", "admin") as client:
        workflows = client.exec("<workflows action='list'/>")
        queues = client.exec("<queuepool action='list'/>")
    assert [(w.get("id"), w.get("name")) for w in workflows] == [
        (created.get("workflow-id"), "shared")]
    assert {q.get("name") for q in queues} == {"default", "q2"}


def test_an_instance_run_on_one_engine_is_in_the_other_engines_history(make_node, db_url):
    first = make_node("node1", db_url=db_url).start()
    second = make_node("node2", db_url=db_url).start()
    content = base64.b64encode(WORKFLOW).decode()
    with Client(f"unix://{first.socket_path}", "admin", "admin") as client:
        client.exec(f"<workflow action='create' name='shared' content='{content}'/>")
        launched = client.exec("<instance action='launch' name='shared' mode='synchronous'/>")
    instance_id = launched.get("workflow-instance-id")
    with Client(f"unix://{second.socket_path}", "admin", "admin") as client:
        history = client.exec("<instances action='list'/>")
        stored = client.exec(f"<instance action='query' id='{instance_id}'/>")
    assert [(w.get("id"), w.get("node_name"), w.get("status")) for w in history] == [
        (instance_id, "node1", "TERMINATED")]
    assert stored[0].get("status") == "TERMINATED"
