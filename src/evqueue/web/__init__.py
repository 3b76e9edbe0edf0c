"""The web console, served by the engine as static files.

Rules: there is no build step and nothing is fetched at run time; everything the browser loads
lives under :data:`STATIC_DIR`. ``index.html`` is the entry point (served at ``/``); the
stylesheet is ``css/app.css`` and the scripts are native ES modules under ``js/`` (served
under ``/static/``). The console talks to the engines over their websockets (subprotocols
``api`` and ``events``) on the same port.
"""

from pathlib import Path

__all__ = ["STATIC_DIR"]

#: Folder holding index.html, css/ and js/.
STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
