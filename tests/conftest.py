"""Suite-wide fixtures: database backends (``tests/dbfixtures.py``)."""

pytest_plugins = ["tests.dbfixtures"]
