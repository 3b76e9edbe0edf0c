"""The git module on real nodes: announced only with ``git.repository``, and working."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from evqueue.client.sync import Client
from evqueue.protocol import ApiError

WORKFLOW = base64.b64encode(
    b"<workflow><subjobs><job name='j'><tasks><task path='/bin/true' queue='default'/>"
    b"</tasks></job></subjobs></workflow>").decode()


def test_a_node_with_a_repository_serves_git(make_node, tmp_path: Path):
    clone = tmp_path / "workflows-repo"
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    node = make_node("node1", settings={"git.repository": str(clone)}).start()
    with Client(f"unix://{node.socket_path}", "admin", "admin") as client:
        assert "git" in [m.get("name") for m in client.greeting.iter("module")]
        assert client.exec("<ping/>").get("git-support") == "enabled"
        client.exec(f"<workflow action='create' name='nightly' group='ops' "
                    f"content='{WORKFLOW}'/>")
        client.exec("<git action='save_workflow' name='nightly' commit_log='first'/>")
        [entry] = client.exec("<git action='list_workflows'/>")
        assert entry.get("name") == "nightly" and entry.get("modified") == "0"
    assert (clone / "workflows" / "nightly.xml").read_text().startswith(
        '<workflow group="ops" comment="">')


def test_a_node_without_a_repository_refuses_git(make_node):
    node = make_node("node1").start()
    with Client(f"unix://{node.socket_path}", "admin", "admin") as client:
        assert "git" not in [m.get("name") for m in client.greeting.iter("module")]
        assert client.exec("<ping/>").get("git-support") == "disabled"
        with pytest.raises(ApiError, match="No git repository is configured"):
            client.exec("<git action='list_workflows'/>")
