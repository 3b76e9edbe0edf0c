"""Engine settings from the configuration."""

from __future__ import annotations

from evqueue.config import Config
from evqueue.engine import EngineSettings


def test_from_config():
    config = Config.from_mapping({
        "core.wd": "/srv/evq", "cluster.node.name": "node7",
        "workflowinstance.savepoint.level": "3", "datastore.dom.maxsize": "1K",
        "queuepool.scheduler": "prio",
    })
    settings = EngineSettings.from_config(config, environ={"A": "b"})
    assert settings.node_name == "node7" and settings.savepoint_level == 3
    assert settings.dom_maxsize == 1024 and settings.default_scheduler == "prio"
    assert settings.instance_settings().environ == {"A": "b"}


def test_out_of_range_level_is_zero():
    assert EngineSettings(savepoint_level=7, environ={}).savepoint_level == 0
