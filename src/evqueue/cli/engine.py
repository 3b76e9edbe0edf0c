"""``evqueue``: start a node (the engine), or run one of its IPC utilities.

Rules:
- The command line only parses and calls; start-up steps live in ``evqueue.server``.
- Flags are evQueue's (``--config FILE --daemon --wait-db --ipcq-remove --ipcq-stats
  --ipc-terminate-tid N --version``). An unknown flag prints the usage and exits 2 (evQueue
  exits 0, which hides typos in service files).
- Start-up errors are printed on the terminal and give exit code 1, also with ``--daemon``.
- ``evqueue cluster start|stop|status …`` (first argument ``cluster``) manages the nodes of a
  development cluster (:mod:`evqueue.cli.cluster`); the flags above are unchanged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from evqueue import EVQUEUE_VERSION, __version__

__all__ = ["build_parser", "main"]

USAGE = """evqueue --config FILE [--daemon] [--wait-db]
       evqueue --config FILE --ipcq-stats | --ipcq-remove | --ipc-terminate-tid TID
       evqueue --version
       evqueue cluster {start,stop,status} [--data DIR] [--config FILE] [--port BASE]"""

DESCRIPTION = """evQueue engine: runs workflows, serves the API.

commands:
  (none)                run a node with the configuration FILE, or one of its IPC utilities
  cluster ACTION        start, stop or list the nodes of a development cluster: one node per
                        developer directory of --data, all from one configuration file
                        (evqueue cluster ACTION --help)"""

EPILOG = """examples:
  evqueue --config /etc/evqueue.conf                run a node in the foreground
  evqueue --config /etc/evqueue.conf --daemon       run it in the background
  evqueue --config /etc/evqueue.conf --ipcq-stats   show the node's IPC queue
  login=alice port=5100 evqueue --config evqueue.multiuser.conf --daemon
  evqueue cluster start --data /data --config /etc/evqueue.multiuser.conf
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``evqueue``."""
    parser = argparse.ArgumentParser(
        prog="evqueue", usage=USAGE, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--config", metavar="FILE", help="configuration file (required)")
    parser.add_argument("--daemon", action="store_true",
                        help="detach from the terminal once the node serves")
    parser.add_argument("--wait-db", action="store_true",
                        help="retry the database connection every second until it succeeds")
    parser.add_argument("--ipcq-remove", action="store_true",
                        help="remove the node's IPC queue (pending task exits are lost) and exit")
    parser.add_argument("--ipcq-stats", action="store_true",
                        help="print the IPC queue size and pending messages, then exit")
    parser.add_argument("--ipc-terminate-tid", type=int, metavar="TID",
                        help="report task TID as ended with code -1 (unsticks a task), then exit")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``evqueue`` with ``argv`` (default: the process arguments); returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["cluster"]:
        from evqueue.cli import cluster

        return cluster.main(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    if args.version:
        print(f"evQueue version {EVQUEUE_VERSION} (evqueue {__version__}, Python "
              f"{sys.version.split()[0]})")
        return 0
    if not args.config:
        parser.print_usage(sys.stderr)
        print("evqueue: error: --config FILE is required", file=sys.stderr)
        return 2

    from evqueue.config import ConfigError, load_config
    from evqueue.server.startup import StartupError, start_node

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"evqueue: {exc}", file=sys.stderr)
        return 1
    if args.ipcq_remove or args.ipcq_stats or args.ipc_terminate_tid is not None:
        return _ipc_utility(cfg, args)
    try:
        return start_node(cfg, daemon=args.daemon, wait_db=args.wait_db)
    except StartupError as exc:
        print(f"evqueue: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _ipc_utility(cfg, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from evqueue.process import ipc

    try:
        key = ipc.parse_qid(cfg["core.ipc.qid"])
        if args.ipcq_stats:
            size, pending = ipc.queue_stats(key)
            print(f"Queue size : {size}")
            print(f"Pending messages : {pending}")
        elif args.ipcq_remove:
            ipc.remove_queue(key)
            print(f"IPC queue {key & 0xFFFFFFFF:#010x} removed")
        else:
            ipc.send_terminate(key, args.ipc_terminate_tid)
            print(f"Sent a termination message for tid {args.ipc_terminate_tid}")
    except Exception as exc:  # the utilities report any failure the same way
        print(f"evqueue: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

