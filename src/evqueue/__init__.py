"""evqueue: evQueue 3.3, the event-driven job scheduler and workflow engine, in Python."""

__all__ = ["EVQUEUE_VERSION", "__version__"]

#: The protocol version announced to clients (``<ready version=…>``, ``<ping>``).
EVQUEUE_VERSION = "3.3"
__version__ = "3.3.0"
