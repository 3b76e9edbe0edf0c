"""The database server goes away mid-run (PostgreSQL, MariaDB): nothing is lost.

A private server of the test's own (``tests/soak/dbservers.py``, never the shared ones) is
stopped for 12 s while one-task instances run and their tasks end: longer than the default
savepoint retries (2 more tries, 2 s apart), so the writes are given up once and must be
stored when the server is back. Meanwhile a connection logged in before keeps being served.
The 30 s version with figures is ``python -m tests.soak.db_outage``.
"""

from __future__ import annotations

import argparse

import pytest

from tests.soak import db_outage

OUTAGE_SECONDS = 12.0


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_stopped_database_server_delays_writes_but_loses_nothing(backend, capsys):
    figures = db_outage.run(argparse.Namespace(
        backend=backend, outage=OUTAGE_SECONDS, instances=8, retry_forever=False, seed=3,
        keep=False))
    assert figures["node alive at the end"]
    assert figures["tasks ended during the outage"] > 0
    assert figures["all instances ended in the store"], capsys.readouterr().err
    assert figures["instances with a problem"] == 0, figures["detail"]
    assert figures["seconds from store back to all ended"] < 15
    assert figures["slowest API round during the outage (s)"] < 2.0
    assert figures["API answers during the outage"] > 0
    assert str(figures["launch during the outage"]).startswith(("OK", "KO"))
