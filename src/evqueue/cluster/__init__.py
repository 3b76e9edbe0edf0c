"""evqueue.cluster: nodes sharing one store, and what they tell each other.

- :mod:`.registry`: this node's row in the node registry (``t_node``), its heartbeats, and the
  refusal to start under the name of a running node.
- :mod:`.notifier`: after a definition change, the other nodes of ``cluster.nodes`` are told to
  reload it (``<control action="reload" module=… notify="no"/>``), in the background.
- :mod:`.elections`: work that one node of the cluster must do, once (``t_uniqueaction``).
- :mod:`.peer`: the short connection a node opens to another node.
- :mod:`.team`: the development cluster of one machine (one node per developer directory),
  behind ``evqueue cluster start|stop|status``.
"""

from evqueue.cluster.elections import Elector, Periodic
from evqueue.cluster.notifier import Notifier
from evqueue.cluster.peer import Peer, PeerTimeouts
from evqueue.cluster.registry import NodeNameInUse, NodeRegistry

__all__ = ["Elector", "NodeNameInUse", "NodeRegistry", "Notifier", "Peer", "PeerTimeouts",
           "Periodic"]
