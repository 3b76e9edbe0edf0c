"""Configuration: the file reader, ``{VAR}`` substitution, and every key with its type and default.

The engine reads one file at start-up (``evqueue --config FILE``); see ``keys.py`` for every key.
"""

from evqueue.config.check import check, warnings
from evqueue.config.config import Config, Placeholder, load_config
from evqueue.config.errors import ConfigError
from evqueue.config.keys import KEYS, Key, KeyType

__all__ = ["KEYS", "Config", "ConfigError", "Key", "KeyType", "Placeholder", "check",
           "load_config", "warnings"]
