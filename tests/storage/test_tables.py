"""The schema as created on the backend: evQueue 3.3's tables and columns, plus ours."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.tables import metadata

pytestmark = pytest.mark.backends

# The same literal for every backend: creation is identical in table and column names.
EXPECTED = {
    "t_workflow": "workflow_id workflow_name workflow_xml workflow_group workflow_comment "
    "workflow_lastcommit",
    "t_workflow_instance": "workflow_instance_id node_name workflow_id workflow_schedule_id "
    "workflow_instance_host workflow_instance_start workflow_instance_end "
    "workflow_instance_status workflow_instance_errors workflow_instance_comment "
    "workflow_instance_savepoint",
    "t_workflow_instance_parameters": "workflow_instance_id workflow_instance_parameter "
    "workflow_instance_parameter_value",
    "t_workflow_instance_filters": "workflow_instance_id workflow_instance_filter "
    "workflow_instance_filter_value",
    "t_workflow_instance_tag": "tag_id workflow_instance_id",
    "t_tag": "tag_id tag_label",
    "t_datastore": "datastore_id workflow_instance_id datastore_value",
    "t_queue": "queue_id queue_name queue_concurrency queue_scheduler queue_dynamic",
    "t_schedule": "schedule_id schedule_name schedule_xml",
    "t_workflow_schedule": "workflow_schedule_id node_name workflow_id workflow_schedule "
    "workflow_schedule_onfailure workflow_schedule_user workflow_schedule_host "
    "workflow_schedule_active workflow_schedule_comment",
    "t_workflow_schedule_parameters": "workflow_schedule_id workflow_schedule_parameter "
    "workflow_schedule_parameter_value",
    "t_notification_type": "notification_type_id notification_type_scope "
    "notification_type_name notification_type_description notification_type_manifest "
    "notification_type_binary_content notification_type_conf_content",
    "t_notification": "notification_id notification_type_id notification_name "
    "notification_subscribe_all notification_parameters",
    "t_workflow_notification": "workflow_id notification_id",
    "t_user": "user_id user_login user_password user_password_salt user_password_iterations "
    "user_profile user_preferences",
    "t_user_right": "user_id workflow_id user_right_edit user_right_read user_right_exec "
    "user_right_kill",
    "t_user_module": "user_id module_name user_module_type user_module_object "
    "user_module_access",
    "t_log": "log_id node_name log_level log_message log_timestamp",
    "t_log_api": "log_api_id node_name user_id log_api_object_id log_api_object_type "
    "log_api_group log_api_action log_api_timestamp",
    "t_log_notifications": "log_notifications_id node_name log_notifications_pid "
    "log_notifications_message log_notifications_timestamp",
    "t_uniqueaction": "uniqueaction_id node_name uniqueaction_name uniqueaction_time",
    "t_storage": "storage_id storage_path storage_type storage_structure storage_name "
    "storage_value",
    "t_launcher": "launcher_id launcher_name launcher_group launcher_description workflow_id "
    "launcher_user launcher_host launcher_parameters",
    "t_display": "display_id display_name display_group storage_path display_order "
    "display_item_title display_item_content",
    "t_evqueue_schema": "schema_version schema_updated",
    "t_node": "node_name api_url ws_url version started_at heartbeat",
    "t_schedule_fire": "workflow_schedule_id due_time node_name workflow_instance_id",
}


def _describe(sync_conn: object) -> dict[str, object]:
    inspector = inspect(sync_conn)
    return {
        name: {
            "columns": [c["name"] for c in inspector.get_columns(name)],
            "indexes": {i["name"] for i in inspector.get_indexes(name)},
            "unique": [sorted(u["column_names"]) for u in inspector.get_unique_constraints(name)],
        }
        for name in inspector.get_table_names()
    }


async def _live_schema(db: Database) -> dict[str, dict[str, object]]:
    async def work(conn: AsyncConnection) -> dict[str, object]:
        return await conn.run_sync(_describe)

    return await db.read(work)  # type: ignore[return-value]


def test_metadata_declares_every_table() -> None:
    assert set(metadata.tables) == set(EXPECTED)
    for name, columns in EXPECTED.items():
        assert [c.name for c in metadata.tables[name].columns] == columns.split(), name


async def test_created_tables_and_columns(db: Database) -> None:
    live = await _live_schema(db)
    assert set(live) == set(EXPECTED)
    for name, columns in EXPECTED.items():
        assert live[name]["columns"] == columns.split(), name


async def test_indexes_exist(db: Database) -> None:
    live = await _live_schema(db)
    instance_indexes = live["t_workflow_instance"]["indexes"]
    for index in ("status", "date_end", "errors", "date_start", "schedule"):
        assert f"ix_t_workflow_instance_{index}" in instance_indexes
    assert "ix_t_uniqueaction_name" in live["t_uniqueaction"]["indexes"]
    assert "ix_t_workflow_instance_filters_filter" in live["t_workflow_instance_filters"][
        "indexes"
    ]


async def test_long_savepoints_and_blobs_fit(db: Database) -> None:
    """longtext and longblob columns hold more than MariaDB's 64 KiB TEXT/BLOB."""
    from evqueue.storage.instances import InstanceSpec, create_instance, get_instance
    from evqueue.storage.notifications import (
        create_notification_type,
        get_notification_type_binary,
    )

    big = "<workflow>" + "x" * 200_000 + "</workflow>"
    instance_id = await create_instance(db, InstanceSpec(workflow_id=1, savepoint=big))
    row = await get_instance(db, instance_id)
    assert row is not None and row.savepoint == big
    blob = bytes(range(256)) * 1000
    type_id = await create_notification_type(db, "email", "mail", "<plugin/>", blob)
    assert await get_notification_type_binary(db, type_id) == blob
