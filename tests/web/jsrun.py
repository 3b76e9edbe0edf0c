"""Run the console's ES modules under Node.js for tests of their pure functions.

The modules are the files the browser loads; Node imports them from the package directory
(file: URLs), so what is tested is exactly what ships. Node is not a dependency of the
product, so tests that need it are skipped (with `needs_node`) on a machine without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from evqueue.web import STATIC_DIR

__all__ = ["JS_DIR", "NODE", "needs_node", "run_js"]

JS_DIR = STATIC_DIR / "js"
NODE = shutil.which("node")

needs_node = pytest.mark.skipif(
    NODE is None, reason="Node.js is not installed; it only runs the console's JavaScript in tests")


def run_js(imports: dict[str, str], body: str, *, tz: str = "UTC") -> Any:
    """Import modules (name -> path under static/js) and run ``body``; returns its result.

    ``body`` is the inside of an async function whose return value is sent back as JSON.
    """
    lines = [f"import * as {name} from {json.dumps((JS_DIR / path).as_uri())};"
             for name, path in imports.items()]
    script = "\n".join([*lines, f"const result = await (async () => {{ {body} }})();",
                        "process.stdout.write(JSON.stringify(result));"])
    assert NODE is not None
    done = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=30, env={**os.environ, "TZ": tz})
    if done.returncode != 0:
        raise AssertionError(f"node failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)
