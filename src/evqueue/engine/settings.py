"""Engine settings: the configuration keys the engine reads, as one frozen dataclass.

:meth:`EngineSettings.from_config` is the only place that knows the key names; tests build
:class:`EngineSettings` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evqueue.engine.instance_state import InstanceSettings

if TYPE_CHECKING:
    from evqueue.config import Config

__all__ = ["EngineSettings"]

#: Highest task id (Linux's default ``/proc/sys/kernel/pid_max`` on 64-bit systems).
DEFAULT_TID_MAX = 4194304


@dataclass(frozen=True)
class EngineSettings:
    """What the engine needs from the configuration.

    Attributes:
        node_name: ``cluster.node.name``.
        savepoint_level: ``workflowinstance.savepoint.level`` (0–3, semantics.md §2.5).
        save_parameters: ``workflowinstance.saveparameters`` (effective at level ≥ 2).
        savepoint_window: level 2 only: seconds the changes of running instances are gathered
            before they are written in one batch (not a configuration key).
        savepoint_retry / savepoint_retry_times / savepoint_retry_wait:
            ``workflowinstance.savepoint.retry.enable/.times/.wait`` (times 0 = forever).
        max_instances: ``workflowinstance.max``: instances running at once; a launch past it
            is refused (0 = no limit; resumed instances are never refused).
        dom_maxsize: ``datastore.dom.maxsize``: outputs at least this long (bytes) go to the
            datastore.
        default_scheduler: ``queuepool.scheduler``.
        tid_max: task ids wrap around after this value.
        environ: the environment used for ``$VAR`` in task paths.
    """

    node_name: str = "localhost"
    savepoint_level: int = 2
    save_parameters: bool = True
    savepoint_window: float = 0.02
    savepoint_retry: bool = True
    savepoint_retry_times: int = 2
    savepoint_retry_wait: float = 2.0
    max_instances: int = 0
    dom_maxsize: int = 500 * 1024
    default_scheduler: str = "fifo"
    tid_max: int = DEFAULT_TID_MAX
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def __post_init__(self) -> None:
        if self.savepoint_level not in (0, 1, 2, 3):
            # evQueue treats an out-of-range level as 0.
            object.__setattr__(self, "savepoint_level", 0)

    @classmethod
    def from_config(
        cls, config: Config, environ: Mapping[str, str] | None = None
    ) -> EngineSettings:
        """Read the engine's keys from a :class:`evqueue.config.Config`."""
        return cls(
            node_name=config.node_name,
            savepoint_level=int(config["workflowinstance.savepoint.level"]),
            save_parameters=bool(config["workflowinstance.saveparameters"]),
            savepoint_retry=bool(config["workflowinstance.savepoint.retry.enable"]),
            savepoint_retry_times=int(config["workflowinstance.savepoint.retry.times"]),
            savepoint_retry_wait=float(config["workflowinstance.savepoint.retry.wait"]),
            max_instances=int(config["workflowinstance.max"]),
            dom_maxsize=int(config["datastore.dom.maxsize"]),
            default_scheduler=str(config["queuepool.scheduler"]),
            environ=dict(os.environ if environ is None else environ),
        )

    def instance_settings(self) -> InstanceSettings:
        """The part of the settings the instance state machine reads (one object for every
        instance: they all hold it)."""
        cached = self.__dict__.get("_instance_settings")
        if cached is None:
            cached = InstanceSettings(environ=self.environ)
            object.__setattr__(self, "_instance_settings", cached)
        return cached
