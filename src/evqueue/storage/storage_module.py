"""The storage module: variables (``t_storage``), launchers (``t_launcher``) and displays
(``t_display``).

Rules:

* A variable is unique by (path, name); ``set_variable`` inserts or replaces the value while
  keeping the variable's id. Values are JSON text, validated by the caller.
* ``list_variables(path, recursive=True)`` also returns variables under sub-paths
  (``path/…``); the path is matched literally (``%`` and ``_`` are not wildcards).
* Launcher and display names are unique (``DuplicateName``). Deleting a launcher also revokes
  every user's access to it (module right storage/launcher/<id>).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.tables import t_display, t_launcher, t_storage, t_user_module

__all__ = [
    "DisplayRow",
    "DisplaySpec",
    "LauncherRow",
    "LauncherSpec",
    "VariableRow",
    "create_display",
    "create_launcher",
    "delete_display",
    "delete_launcher",
    "delete_variable",
    "find_variable",
    "get_display",
    "get_launcher",
    "get_variable",
    "list_displays",
    "list_launchers",
    "list_variables",
    "set_variable",
    "set_variable_value",
    "update_display",
    "update_launcher",
]

_s = t_storage.c


@dataclass(frozen=True, slots=True)
class VariableRow:
    """A stored variable; ``value`` is JSON text."""

    id: int
    path: str
    type: str
    structure: str
    name: str
    value: str


def _variable(row: Row[Any]) -> VariableRow:
    return VariableRow(
        id=row.storage_id, path=row.storage_path, type=row.storage_type,
        structure=row.storage_structure, name=row.storage_name, value=row.storage_value,
    )


async def get_variable(db: Database, variable_id: int) -> VariableRow | None:
    """The variable with this id, or None."""
    row = await db.fetch_one(select(t_storage).where(_s.storage_id == variable_id))
    return _variable(row) if row else None


async def find_variable(db: Database, path: str, name: str) -> VariableRow | None:
    """The variable ``name`` at ``path``, or None."""
    query = select(t_storage).where(_s.storage_path == path, _s.storage_name == name)
    row = await db.fetch_one(query)
    return _variable(row) if row else None


async def set_variable(
    db: Database, path: str, name: str, type: str, structure: str, value: str
) -> int:
    """Create or replace the variable ``name`` at ``path``; returns its id."""
    values = {"storage_type": type, "storage_structure": structure, "storage_value": value}

    async def work(conn: AsyncConnection) -> int:
        key = (_s.storage_path == path, _s.storage_name == name)
        found = (await conn.execute(select(_s.storage_id).where(*key))).scalar()
        if found is not None:
            await conn.execute(update(t_storage).where(_s.storage_id == found).values(values))
            return int(found)
        result = await conn.execute(
            insert(t_storage).values(storage_path=path, storage_name=name, **values)
        )
        return int(result.inserted_primary_key[0])

    return await db.write(work)


async def set_variable_value(db: Database, variable_id: int, value: str) -> bool:
    """Replace the value of an existing variable (append, inc, …)."""
    stmt = update(t_storage).where(_s.storage_id == variable_id).values(storage_value=value)
    return await db.execute(stmt) > 0


async def delete_variable(db: Database, variable_id: int) -> bool:
    """Delete a variable; returns False if it did not exist."""
    return await db.execute(delete(t_storage).where(_s.storage_id == variable_id)) > 0


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_variables(db: Database, path: str, recursive: bool = False) -> list[VariableRow]:
    """Variables at ``path`` (and below it when ``recursive``), by path then name."""
    query = select(t_storage).order_by(_s.storage_path, _s.storage_name)
    if recursive and path:
        below = _s.storage_path.like(_escape_like(path) + "/%", escape="\\")
        query = query.where(or_(_s.storage_path == path, below))
    elif not recursive:
        query = query.where(_s.storage_path == path)
    return [_variable(r) for r in await db.fetch_all(query)]


# --- launchers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LauncherSpec:
    """What a launcher holds; ``user``/``host`` are variable paths, ``parameters`` JSON."""

    name: str
    workflow_id: int
    group: str = ""
    description: str = ""
    user: str = ""
    host: str = ""
    parameters: str = "{}"


@dataclass(frozen=True, slots=True)
class LauncherRow:
    """A stored launcher."""

    id: int
    name: str
    workflow_id: int
    group: str
    description: str
    user: str
    host: str
    parameters: str


def _launcher_values(spec: LauncherSpec) -> dict[str, Any]:
    return {f"launcher_{key}" if key != "workflow_id" else key: value
            for key, value in asdict(spec).items()}


def _launcher(row: Row[Any]) -> LauncherRow:
    return LauncherRow(
        id=row.launcher_id, name=row.launcher_name, workflow_id=row.workflow_id,
        group=row.launcher_group, description=row.launcher_description,
        user=row.launcher_user, host=row.launcher_host, parameters=row.launcher_parameters,
    )


async def list_launchers(db: Database) -> list[LauncherRow]:
    """Every launcher, by name."""
    query = select(t_launcher).order_by(t_launcher.c.launcher_name)
    return [_launcher(r) for r in await db.fetch_all(query)]


async def get_launcher(db: Database, launcher_id: int) -> LauncherRow | None:
    """The launcher with this id, or None."""
    row = await db.fetch_one(select(t_launcher).where(t_launcher.c.launcher_id == launcher_id))
    return _launcher(row) if row else None


async def create_launcher(db: Database, spec: LauncherSpec) -> int:
    """Create a launcher; returns its id (``DuplicateName`` if the name is taken)."""
    return await db.insert(insert(t_launcher).values(_launcher_values(spec)))


async def update_launcher(db: Database, launcher_id: int, spec: LauncherSpec) -> bool:
    """Replace a launcher; returns False if it does not exist."""
    stmt = (
        update(t_launcher)
        .where(t_launcher.c.launcher_id == launcher_id)
        .values(_launcher_values(spec))
    )
    return await db.execute(stmt) > 0


async def delete_launcher(db: Database, launcher_id: int) -> bool:
    """Delete a launcher and every user's right on it; False if it did not exist."""

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            delete(t_launcher).where(t_launcher.c.launcher_id == launcher_id)
        )
        m = t_user_module.c
        await conn.execute(
            delete(t_user_module).where(
                m.module_name == "storage", m.user_module_type == "launcher",
                m.user_module_object == launcher_id,
            )
        )
        return bool(result.rowcount)

    return await db.write(work)


# --- displays ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisplaySpec:
    """A UI view over a storage path; ``order`` is ASC or DESC."""

    name: str
    path: str
    order: str = "ASC"
    group: str = ""
    item_title: str = ""
    item_content: str = ""


@dataclass(frozen=True, slots=True)
class DisplayRow:
    """A stored display."""

    id: int
    name: str
    path: str
    order: str
    group: str
    item_title: str
    item_content: str


def _display_values(spec: DisplaySpec) -> dict[str, Any]:
    return {
        "display_name": spec.name, "display_group": spec.group, "storage_path": spec.path,
        "display_order": spec.order, "display_item_title": spec.item_title,
        "display_item_content": spec.item_content,
    }


def _display(row: Row[Any]) -> DisplayRow:
    return DisplayRow(
        id=row.display_id, name=row.display_name, path=row.storage_path,
        order=row.display_order, group=row.display_group, item_title=row.display_item_title,
        item_content=row.display_item_content,
    )


async def list_displays(db: Database) -> list[DisplayRow]:
    """Every display, by group then name."""
    c = t_display.c
    return [_display(r) for r in await db.fetch_all(
        select(t_display).order_by(c.display_group, c.display_name)
    )]


async def get_display(db: Database, display_id: int) -> DisplayRow | None:
    """The display with this id, or None."""
    row = await db.fetch_one(select(t_display).where(t_display.c.display_id == display_id))
    return _display(row) if row else None


async def create_display(db: Database, spec: DisplaySpec) -> int:
    """Create a display; returns its id (``DuplicateName`` if the name is taken)."""
    return await db.insert(insert(t_display).values(_display_values(spec)))


async def update_display(db: Database, display_id: int, spec: DisplaySpec) -> bool:
    """Replace a display; returns False if it does not exist."""
    stmt = (
        update(t_display)
        .where(t_display.c.display_id == display_id)
        .values(_display_values(spec))
    )
    return await db.execute(stmt) > 0


async def delete_display(db: Database, display_id: int) -> bool:
    """Delete a display; returns False if it did not exist."""
    return await db.execute(delete(t_display).where(t_display.c.display_id == display_id)) > 0
