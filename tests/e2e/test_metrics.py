"""``/metrics`` scraped from a running node, after a few instances ran, is Prometheus text whose
figures match what the node did."""

from __future__ import annotations

import base64
import urllib.request

import pytest

from evqueue.client.sync import Client
from evqueue.protocol import ApiError
from tests.server.test_metrics import parse_exposition, value

WORKFLOW = ("<workflow><parameters><parameter name='run'/></parameters><subjobs><job name='j'>"
            "<tasks><task path='/bin/sh' queue='default'><input>-c</input><input>"
            "<value select=\"evqGetWorkflowParameter('run')\"/></input></task></tasks></job>"
            "</subjobs></workflow>")


def scrape(port: int) -> tuple[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        return reply.headers["Content-Type"], reply.read().decode()


def test_metrics_of_a_node_that_ran_instances(make_node) -> None:
    node = make_node("node1").start()
    content = base64.b64encode(WORKFLOW.encode()).decode()
    with Client(f"unix://{node.socket_path}", "admin", "admin") as client:
        client.exec(f"<workflow action='create' name='sh' content='{content}'/>")
        ended = [client.exec(f"<instance action='launch' name='sh' mode='synchronous'>"
                             f"<parameter name='run' value='{run}'/></instance>")
                 for run in ("true", "exit 3", "echo done")]
        with pytest.raises(ApiError):
            client.exec("<instance action='query' id='999'/>")
        queries = [client.exec(f"<instance action='query' id='{e.get('workflow-instance-id')}'/>")
                   for e in ended]
    assert [q[0].get("errors") for q in queries] == ["0", "1", "0"]

    content_type, text = scrape(node.ws_port)
    assert content_type.startswith("text/plain; version=0.0.4")
    families = parse_exposition(text)
    assert value(families, "evqueue_up") == 1
    assert value(families, "evqueue_info", node="node1", version="3.3") == 1
    assert value(families, "evqueue_uptime_seconds") >= 0
    # create, 3 launches, the refused query and 3 queries
    assert value(families, "evqueue_api_queries_total") >= 8
    assert value(families, "evqueue_api_exceptions_total") >= 1
    assert value(families, "evqueue_api_connections_accepted_total") >= 1
    assert value(families, "evqueue_instances", status="EXECUTING") == 0
    assert value(families, "evqueue_queue_tasks_running", queue="default") == 0
    assert value(families, "evqueue_queue_tasks_queued", queue="default") == 0
    assert value(families, "evqueue_queue_concurrency", queue="default") == 1

    _, again = scrape(node.ws_port)  # counters never go back
    later = parse_exposition(again)
    for name, family in later.items():
        if family.kind == "counter":
            assert value(later, name) >= value(families, name), name
