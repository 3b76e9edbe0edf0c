"""The engine raises its soft open files limit to the hard one, in a child process."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import resource
from evqueue.server.open_files import raise_open_files_limit
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096))
print(raise_open_files_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
print(raise_open_files_limit())
"""


def test_the_soft_limit_is_raised_to_the_hard_one_and_never_lowered() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["4096", "4096", "4096"]
