"""evqueue.process: forker, monitor, SysV IPC, remote agent and the engine-side process manager.

This package must stay import-light: the forker and the monitor import it, and they are meant to
be small processes (standard library + sysv_ipc only). Nothing is re-exported here; import the
submodules (``evqueue.process.manager``, ``evqueue.process.spec``, ...) directly.
"""

__all__: list[str] = []
