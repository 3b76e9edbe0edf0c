"""evqueue.services: the node's services that join the engine and the store.

The engine (:mod:`evqueue.engine`) reaches the store only through its ports; the services here
use the storage verbs directly, and the engine's public face (launch, events, end listeners):

- :mod:`.scheduler`: workflow schedules, launched at their due times (``t_schedule_fire``
  elects the node of an ``any`` schedule).
- :mod:`.notifications` + :mod:`.plugin_run`: the notification plugins run when an instance
  ends.
- :mod:`.gc`: the garbage collector (history retention).
- :mod:`.git_store`: workflow files in a git working copy (the ``git`` command group).

Layer: after ``engine`` (and ``storage``, ``process``), before ``client`` and ``api``.
"""

__all__: list[str] = []
