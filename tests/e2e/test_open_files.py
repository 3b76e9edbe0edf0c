"""A node raises its own open files limit to hold its connections; its tasks keep the limit the
node was started with, also once a killed forker was replaced."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.e2e.enginekit import EngineNode, one_job, started
from tests.e2e.test_engine_forker import kill_forker


class LowLimitNode(EngineNode):
    """A node started with a soft limit of 256 open files under a hard limit of 4,096."""

    def command(self, *extra: str) -> list[str]:
        limit = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, "
                 "(256, 4096)); os.execv(sys.executable, "
                 "[sys.executable, '-m', 'evqueue', *sys.argv[1:]])")
        return [sys.executable, "-c", limit, "--config", str(self.config_path), *extra]


def _soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open files line")


def test_the_engine_raises_its_limit_and_tasks_keep_theirs(tmp_path):
    node = started(LowLimitNode(tmp_path))
    try:
        assert _soft_limit(node.pid()) == 4096
        task = "<task name='t' queue='default' path=\"/bin/sh -c 'ulimit -n'\"/>"
        node.workflow("nofile", one_job(task))
        for _ in range(2):
            final = node.run_workflow("nofile")
            output = final.find(".//task[@name='t']/output")
            assert output.get("retval") == "0"
            assert output.text.strip() == "256"
            kill_forker(node)  # the second run goes through a forker the engine started
    finally:
        node.close()
