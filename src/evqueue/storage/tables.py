"""The database schema: evQueue 3.3's tables, plus a few tables of ours.

Rules of this module:

* Table and column names, lengths and NULL-ability are evQueue 3.3's (``src/DB/tables.cpp``,
  ``src/Storage/tables.cpp``), so an existing evQueue database can be opened as it is. The
  ELogs tables (a separate database in evQueue) are not here.
* Types are portable to SQLite, PostgreSQL and MariaDB/MySQL: ``ENUM`` becomes a string with
  a CHECK constraint, ``longtext``/``mediumtext`` become ``Text`` (``LONGTEXT``/``MEDIUMTEXT``
  on MariaDB, where plain ``TEXT`` stops at 64 KiB), blobs become ``LargeBinary``
  (``LONGBLOB`` on MariaDB), ``timestamp`` becomes ``DateTime`` (naive local time, as
  evQueue's ``NOW()``), ``tinyint`` flags become ``SmallInteger`` holding 0/1.
* Auto-increment keys never reuse ids on SQLite either (``sqlite_autoincrement``), as on
  MariaDB.
* Our additions are new tables only (``t_evqueue_schema``, ``t_node``, ``t_schedule_fire``),
  plus indexes that speed up per-instance lookups; no evQueue column is changed.
* Index names carry their table name, because PostgreSQL wants index names unique per schema.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "EVQUEUE_TABLE_COMMENT",
    "LOG_API_OBJECT_TYPES",
    "SCHEMA_VERSION",
    "metadata",
    "t_datastore",
    "t_display",
    "t_evqueue_schema",
    "t_launcher",
    "t_log",
    "t_log_api",
    "t_log_notifications",
    "t_node",
    "t_notification",
    "t_notification_type",
    "t_queue",
    "t_schedule",
    "t_schedule_fire",
    "t_storage",
    "t_tag",
    "t_uniqueaction",
    "t_user",
    "t_user_module",
    "t_user_right",
    "t_workflow",
    "t_workflow_instance",
    "t_workflow_instance_filters",
    "t_workflow_instance_parameters",
    "t_workflow_instance_tag",
    "t_workflow_notification",
    "t_workflow_schedule",
    "t_workflow_schedule_parameters",
]

#: Version of the schema this code writes; stored in ``t_evqueue_schema``.
SCHEMA_VERSION = 2

#: evQueue marks its MariaDB tables with this comment; we do the same on the tables we share.
EVQUEUE_TABLE_COMMENT = "v3.3"

_MYSQL = ("mysql", "mariadb")

metadata = MetaData()


def _long_text() -> TypeEngine[Any]:
    return Text().with_variant(mysql.LONGTEXT(), *_MYSQL)


def _medium_text() -> TypeEngine[Any]:
    return Text().with_variant(mysql.MEDIUMTEXT(), *_MYSQL)


class _HexLongBlob(TypeDecorator[bytes]):
    """MariaDB ``LONGBLOB`` whose parameters travel as hex text, decoded by ``UNHEX()``.

    aiomysql cannot send ``bytes`` parameters with current PyMySQL releases (its escape
    helper is gone), so binary values are bound as hex strings instead.
    """

    impl = mysql.LONGBLOB
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> Any:
        return func.unhex(bindvalue)

    def bind_processor(self, dialect: Any) -> Any:
        # Replaces (not chains with) LONGBLOB's processor, which would turn text into bytes.
        def process(value: bytes | None) -> str | None:
            return None if value is None else bytes(value).hex()

        return process


def _long_blob() -> TypeEngine[Any]:
    return LargeBinary().with_variant(_HexLongBlob(), *_MYSQL)


def _ascii_bin(length: int) -> TypeEngine[Any]:
    # evQueue's case-sensitive ASCII columns (queue names, schedule strings).
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), *_MYSQL
    )


def _enum(table: str, column: str, values: tuple[str, ...]) -> CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=f"ck_{table}_{column}")


def _id(name: str) -> Column[int]:
    return Column(name, Integer, primary_key=True, autoincrement=True)


def _now() -> Any:
    return func.current_timestamp()


def _evq_table(name: str, *items: Any) -> Table:
    """An evQueue 3.3 table: InnoDB/utf8mb4 on MariaDB, tagged with evQueue's comment."""
    return Table(
        name,
        metadata,
        *items,
        comment=EVQUEUE_TABLE_COMMENT,
        sqlite_autoincrement=True,
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )


def _our_table(name: str, *items: Any) -> Table:
    return Table(
        name,
        metadata,
        *items,
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )


# --- definitions -------------------------------------------------------------------------

t_workflow = _evq_table(
    "t_workflow",
    _id("workflow_id"),
    Column("workflow_name", String(64), nullable=False, unique=True),
    Column("workflow_xml", _long_text(), nullable=False),
    Column("workflow_group", String(64), nullable=False),
    Column("workflow_comment", Text, nullable=False),
    Column("workflow_lastcommit", String(40), nullable=True),
)

t_queue = _evq_table(
    "t_queue",
    _id("queue_id"),
    Column("queue_name", _ascii_bin(64), nullable=False, unique=True),
    Column("queue_concurrency", Integer, nullable=False),
    Column("queue_scheduler", String(32), nullable=False, server_default="default"),
    Column("queue_dynamic", SmallInteger, nullable=False, server_default="0"),
)

t_schedule = _evq_table(  # retry schedules
    "t_schedule",
    _id("schedule_id"),
    Column("schedule_name", String(64), nullable=False, unique=True),
    Column("schedule_xml", Text, nullable=False),
)

t_workflow_schedule = _evq_table(
    "t_workflow_schedule",
    _id("workflow_schedule_id"),
    Column("node_name", String(32), nullable=False, server_default=""),
    Column("workflow_id", Integer, nullable=False),
    Column("workflow_schedule", _ascii_bin(255), nullable=False),
    Column("workflow_schedule_onfailure", String(8), nullable=False),
    Column("workflow_schedule_user", String(32), nullable=True),
    Column("workflow_schedule_host", String(64), nullable=True),
    Column("workflow_schedule_active", SmallInteger, nullable=False),
    Column("workflow_schedule_comment", Text, nullable=False),
    _enum("t_workflow_schedule", "workflow_schedule_onfailure", ("CONTINUE", "SUSPEND")),
)

t_workflow_schedule_parameters = _evq_table(
    "t_workflow_schedule_parameters",
    Column("workflow_schedule_id", Integer, nullable=False),
    Column("workflow_schedule_parameter", String(64), nullable=False),
    Column("workflow_schedule_parameter_value", Text, nullable=False),
    Index("ix_t_workflow_schedule_parameters_schedule", "workflow_schedule_id"),
)

t_notification_type = _evq_table(
    "t_notification_type",
    _id("notification_type_id"),
    Column("notification_type_scope", String(8), nullable=False, server_default="WORKFLOW"),
    Column("notification_type_name", String(32), nullable=False, unique=True),
    Column("notification_type_description", Text, nullable=False),
    Column("notification_type_manifest", _long_text(), nullable=False),
    Column("notification_type_binary_content", _long_blob(), nullable=True),
    Column("notification_type_conf_content", _long_blob(), nullable=True),
    _enum("t_notification_type", "notification_type_scope", ("WORKFLOW", "ELOGS")),
)

t_notification = _evq_table(
    "t_notification",
    _id("notification_id"),
    Column("notification_type_id", Integer, nullable=False),
    Column("notification_name", String(64), nullable=False),
    Column("notification_subscribe_all", Integer, nullable=False, server_default="0"),
    Column("notification_parameters", _long_text(), nullable=False),
)

t_workflow_notification = _evq_table(
    "t_workflow_notification",
    Column("workflow_id", Integer, nullable=False),
    Column("notification_id", Integer, nullable=False),
    PrimaryKeyConstraint("workflow_id", "notification_id"),
)

t_user = _evq_table(
    "t_user",
    _id("user_id"),
    Column("user_login", String(32), nullable=False, unique=True),
    Column("user_password", String(40), nullable=False),
    Column("user_password_salt", String(40), nullable=True),
    Column("user_password_iterations", Integer, nullable=False, server_default="0"),
    Column("user_profile", String(5), nullable=False, server_default="USER"),
    Column("user_preferences", Text, nullable=False),
    _enum("t_user", "user_profile", ("ADMIN", "USER")),
)

t_user_right = _evq_table(
    "t_user_right",
    Column("user_id", Integer, nullable=False),
    Column("workflow_id", Integer, nullable=False),
    Column("user_right_edit", SmallInteger, nullable=False, server_default="0"),
    Column("user_right_read", SmallInteger, nullable=False, server_default="0"),
    Column("user_right_exec", SmallInteger, nullable=False, server_default="0"),
    Column("user_right_kill", SmallInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("user_id", "workflow_id"),
)

t_user_module = _evq_table(
    "t_user_module",
    Column("user_id", Integer, nullable=False),
    Column("module_name", String(32), nullable=False),
    Column("user_module_type", String(32), nullable=False),
    Column("user_module_object", Integer, nullable=False),
    Column("user_module_access", Integer, nullable=False),
    UniqueConstraint(
        "user_id", "module_name", "user_module_type", "user_module_object",
        name="uq_t_user_module_user_id",
    ),
)

t_tag = _evq_table(
    "t_tag",
    _id("tag_id"),
    Column("tag_label", String(64), nullable=False, unique=True),
)

# --- instances ---------------------------------------------------------------------------

t_workflow_instance = _evq_table(
    "t_workflow_instance",
    _id("workflow_instance_id"),
    Column("node_name", String(32), nullable=False, server_default=""),
    Column("workflow_id", Integer, nullable=False),
    Column("workflow_schedule_id", Integer, nullable=True),
    Column("workflow_instance_host", String(64), nullable=True),
    Column("workflow_instance_start", DateTime, nullable=False, server_default=_now()),
    Column("workflow_instance_end", DateTime, nullable=True),
    Column("workflow_instance_status", String(10), nullable=False),
    Column("workflow_instance_errors", Integer, nullable=True),
    Column("workflow_instance_comment", String(255), nullable=True),
    Column("workflow_instance_savepoint", _long_text(), nullable=True),
    _enum(
        "t_workflow_instance", "workflow_instance_status", ("EXECUTING", "TERMINATED", "ABORTED")
    ),
    Index("ix_t_workflow_instance_status", "workflow_instance_status"),
    Index("ix_t_workflow_instance_date_end", "workflow_instance_end"),
    Index("ix_t_workflow_instance_errors", "workflow_instance_errors"),
    Index("ix_t_workflow_instance_date_start", "workflow_instance_start"),
    Index("ix_t_workflow_instance_schedule", "workflow_schedule_id"),
    # The history of one workflow, newest end first, without a sort (and its count).
    Index("ix_t_workflow_instance_workflow", "workflow_id", "workflow_instance_end"),
)

#: The history order (end time descending, running instances last, then id descending) read
#: straight from an index. SQLite and MariaDB get it from the end time index (NULLs sort
#: first, and the primary key follows each entry); PostgreSQL sorts NULLs last and needs this.
_history_index = Index(
    "ix_t_workflow_instance_history",
    t_workflow_instance.c.workflow_instance_end.desc().nulls_last(),
    t_workflow_instance.c.workflow_instance_id.desc(),
)
_history_index.ddl_if(dialect="postgresql")

t_workflow_instance_parameters = _evq_table(
    "t_workflow_instance_parameters",
    Column("workflow_instance_id", Integer, nullable=False),
    Column("workflow_instance_parameter", String(64), nullable=False),
    Column("workflow_instance_parameter_value", Text, nullable=False),
    Index("ix_t_workflow_instance_parameters_instance", "workflow_instance_id"),
)
# evQueue's (name, value(255)) key. PostgreSQL refuses index entries above ~2.7 KB and a
# parameter value may be longer, so there the per-instance index above does the work.
Index(
    "ix_t_workflow_instance_parameters_param_and_value",
    t_workflow_instance_parameters.c.workflow_instance_parameter,
    t_workflow_instance_parameters.c.workflow_instance_parameter_value,
    mysql_length={"workflow_instance_parameter_value": 255},
    mariadb_length={"workflow_instance_parameter_value": 255},
).ddl_if(dialect=("sqlite", "mysql", "mariadb"))

t_workflow_instance_filters = _evq_table(
    "t_workflow_instance_filters",
    Column("workflow_instance_id", Integer, nullable=False),
    Column("workflow_instance_filter", String(64), nullable=False),
    Column("workflow_instance_filter_value", String(255), nullable=False),
    Index(
        "ix_t_workflow_instance_filters_filter",
        "workflow_instance_filter",
        "workflow_instance_filter_value",
    ),
    Index("ix_t_workflow_instance_filters_instance", "workflow_instance_id"),
)

t_workflow_instance_tag = _evq_table(
    "t_workflow_instance_tag",
    Column("tag_id", Integer, nullable=False),
    Column("workflow_instance_id", Integer, nullable=False),
    PrimaryKeyConstraint("tag_id", "workflow_instance_id"),
    Index("ix_t_workflow_instance_tag_instance", "workflow_instance_id"),
)

t_datastore = _evq_table(
    "t_datastore",
    _id("datastore_id"),
    Column("workflow_instance_id", Integer, nullable=False),
    Column("datastore_value", _long_text(), nullable=False),
    Index("ix_t_datastore_instance", "workflow_instance_id"),
)

# --- logs and cluster --------------------------------------------------------------------

t_log = _evq_table(
    "t_log",
    _id("log_id"),
    Column("node_name", String(32), nullable=False, server_default=""),
    Column("log_level", Integer, nullable=False),
    Column("log_message", Text, nullable=False),
    Column("log_timestamp", DateTime, nullable=False, server_default=_now()),
    Index("ix_t_log_timestamp", "log_timestamp"),
)

LOG_API_OBJECT_TYPES = (
    "Workflow", "WorkflowSchedule", "RetrySchedule", "User", "Tag", "Queue",
    "Channel", "ChannelGroup", "Alert",
)

t_log_api = _evq_table(
    "t_log_api",
    _id("log_api_id"),
    Column("node_name", String(32), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("log_api_object_id", Integer, nullable=False),
    Column("log_api_object_type", String(16), nullable=False),
    Column("log_api_group", String(32), nullable=False),
    Column("log_api_action", String(32), nullable=False),
    Column("log_api_timestamp", DateTime, nullable=False, server_default=_now()),
    _enum("t_log_api", "log_api_object_type", LOG_API_OBJECT_TYPES),
    Index("ix_t_log_api_timestamp", "log_api_timestamp"),
)

t_log_notifications = _evq_table(
    "t_log_notifications",
    _id("log_notifications_id"),
    Column("node_name", String(32), nullable=False, server_default=""),
    Column("log_notifications_pid", Integer, nullable=False),
    Column("log_notifications_message", Text, nullable=False),
    Column("log_notifications_timestamp", DateTime, nullable=False, server_default=_now()),
    Index("ix_t_log_notifications_timestamp", "log_notifications_timestamp"),
)

t_uniqueaction = _evq_table(
    "t_uniqueaction",
    _id("uniqueaction_id"),
    Column("node_name", String(32), nullable=False, server_default=""),
    Column("uniqueaction_name", String(64), nullable=False, server_default=""),
    Column("uniqueaction_time", DateTime, nullable=False, server_default=_now()),
    Index("ix_t_uniqueaction_name", "uniqueaction_name", "uniqueaction_time"),
)

# --- storage module ----------------------------------------------------------------------

t_storage = _evq_table(
    "t_storage",
    _id("storage_id"),
    Column("storage_path", String(255), nullable=False),
    Column("storage_type", String(7), nullable=False),
    Column("storage_structure", String(5), nullable=False),
    Column("storage_name", String(64), nullable=False),
    Column("storage_value", _medium_text(), nullable=False),
    UniqueConstraint("storage_path", "storage_name", name="uq_t_storage_namespace"),
    _enum("t_storage", "storage_type", ("INT", "STRING", "BOOLEAN")),
    _enum("t_storage", "storage_structure", ("NONE", "ARRAY", "MAP")),
)

t_launcher = _evq_table(
    "t_launcher",
    _id("launcher_id"),
    Column("launcher_name", String(64), nullable=False, unique=True),
    Column("launcher_group", String(64), nullable=False),
    Column("launcher_description", Text, nullable=False),
    Column("workflow_id", Integer, nullable=False),
    Column("launcher_user", String(64), nullable=False),
    Column("launcher_host", String(64), nullable=False),
    Column("launcher_parameters", Text, nullable=False),
)

t_display = _evq_table(
    "t_display",
    _id("display_id"),
    Column("display_name", String(64), nullable=False, unique=True),
    Column("display_group", String(64), nullable=False, server_default=""),
    Column("storage_path", String(255), nullable=False),
    Column("display_order", String(4), nullable=False),
    Column("display_item_title", String(128), nullable=False),
    Column("display_item_content", Text, nullable=False),
    _enum("t_display", "display_order", ("ASC", "DESC")),
)

# --- ours --------------------------------------------------------------------------------

t_evqueue_schema = _our_table(  # exactly one row
    "t_evqueue_schema",
    Column("schema_version", Integer, nullable=False),
    Column("schema_updated", DateTime, nullable=False),
)

t_node = _our_table(  # cluster node registry
    "t_node",
    Column("node_name", String(32), primary_key=True),
    Column("api_url", String(255), nullable=False, server_default=""),
    Column("ws_url", String(255), nullable=False, server_default=""),
    Column("version", String(32), nullable=False, server_default=""),
    Column("started_at", DateTime, nullable=False),
    Column("heartbeat", DateTime, nullable=False),
    Index("ix_t_node_heartbeat", "heartbeat"),
)

t_schedule_fire = _our_table(  # one row per fired (schedule, due time), cluster-wide
    "t_schedule_fire",
    Column("workflow_schedule_id", Integer, nullable=False),
    Column("due_time", DateTime, nullable=False),
    Column("node_name", String(32), nullable=False),
    Column("workflow_instance_id", Integer, nullable=True),
    PrimaryKeyConstraint("workflow_schedule_id", "due_time"),
    Index("ix_t_schedule_fire_due_time", "due_time"),
)
