"""The list of API modules a node serves."""

from __future__ import annotations

from evqueue.api import datastore, filesystem, logs, tools
from evqueue.api.dispatch import Dispatcher
from evqueue.api.modules import API_MODULES, all_tables


def test_every_listed_module_has_a_command_table():
    assert {tools, logs, datastore, filesystem} <= set(API_MODULES)
    assert all_tables() == [module.routes for module in API_MODULES]


def test_the_tables_build_one_dispatcher_without_clashes():
    dispatcher = Dispatcher(all_tables())
    assert {"ping", "status", "statistics", "control", "xpath", "logs", "logsapi",
            "logsnotifications", "datastore", "filesystem"} <= dispatcher.groups
    assert "quit" not in dispatcher.groups, "quit belongs to the connection"
