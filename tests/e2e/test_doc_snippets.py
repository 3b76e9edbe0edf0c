"""The Python snippets of docs/api.md (the client) and docs/operations.md (an online SQLite
backup) run as written against a real node; only the node's addresses, password and files are
replaced by the test node's.
"""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
from pathlib import Path

import pytest

from evqueue.client import Client
from tests.e2e.enginekit import EngineNode

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PASSWORD = "s3cret"


def python_blocks(document: Path) -> list[str]:
    """The fenced ``python`` blocks of a document."""
    return re.findall(r"^```python\n(.*?)^```", document.read_text(encoding="utf-8"), re.M | re.S)


def run_snippet(code: str) -> str:
    """Execute a snippet and return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<doc>", "exec"), {"__name__": "__doc_snippet__"})  # noqa: S102
    return out.getvalue()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):
    node = EngineNode(tmp_path_factory.mktemp("docs") / "node")
    hello = node.tasks / "hello.sh"
    hello.write_text((ROOT / "examples" / "tasks" / "hello.sh").read_text())
    hello.chmod(0o755)
    node.start()
    try:
        node.workflow("hello", (ROOT / "examples" / "workflows" / "hello.xml").read_text())
        node.exec(f"<user action='change_password' id='1' password='{PASSWORD}'/>")
        node.disconnect()  # its login was admin's former password
        yield node
    finally:
        node.close()


def test_the_client_examples_of_api_md_run(node: EngineNode) -> None:
    blocks = [block for block in python_blocks(DOCS / "api.md") if "evqueue.client" in block]
    assert len(blocks) == 2  # the blocking client and the asyncio one
    addresses = {"unix:///var/lib/evqueue/evqueue.socket": f"unix://{node.socket_path}",
                 "tcp://127.0.0.1:5000": f"tcp://127.0.0.1:{node.api_port}"}
    printed = []
    for block in blocks:
        for written, real in addresses.items():
            block = block.replace(written, real)
        printed.append(run_snippet(block))
    assert printed[0].splitlines() == ["node1 ADMIN", "TERMINATED",
                                       "UKNOWN_OBJECT Unknown Workflow name : nope"]
    assert printed[1].strip() == "['default']"


def test_the_sqlite_backup_of_operations_md_runs_while_the_node_writes(
        node: EngineNode, tmp_path: Path) -> None:
    [block] = [block for block in python_blocks(DOCS / "operations.md") if ".backup(" in block]
    target = tmp_path / "evqueue-backup.db"
    block = (block.replace("/var/lib/evqueue/evqueue.db", str(node.db_path))
             .replace("/backup/evqueue.db", str(target)))
    with Client(f"unix://{node.socket_path}", "admin", PASSWORD) as client:
        client.exec("<instance action='launch' name='hello'><parameter name='who' "
                    "value='backup'/></instance>")
    run_snippet(block)
    with contextlib.closing(sqlite3.connect(target)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = {row[0] for row in db.execute("SELECT workflow_name FROM t_workflow")}
        assert names == {"hello"}
        assert db.execute("SELECT COUNT(*) FROM t_workflow_instance").fetchone()[0] >= 1
