"""The ``storage`` command group: typed variables of the storage module.

Rules (protocol.md §4.5, semantics.md §5.6):

- A variable is named by ``id``, or by ``path`` and ``name``, or by ``path`` alone holding
  ``path/name``. ``set`` creates the variable when the name is new; every other action needs
  it to exist (``Variable not found : « … »``, without error code, as in evQueue).
- Writes (``set``, ``append``, ``inc``, ``dec``, ``add``, ``unset``) need ADMIN; reads
  (``get``, ``head``, ``tail``, ``list``) are open to every user.
- A path is 1–255 characters, without a leading or trailing ``/`` and without ``//``; a name
  is 1–64 characters without ``/``. The type is ``INT``, ``STRING`` or ``BOOLEAN``; the
  structure ``NONE``, ``ARRAY`` or ``MAP``. The value is JSON of that shape: a scalar, an
  array, or an object, whose items all have the type (INVALID_PARAMETER otherwise).
- Values are stored as compact JSON with sorted object keys, as evQueue's JSON library writes
  them. ``append`` needs an ARRAY (or a MAP with ``key``), ``inc``/``dec``/``add`` an INT
  NONE, ``head``/``tail`` a non-empty ARRAY: otherwise TYPE_ERROR.
- Replies: ``get`` sets root attributes ``id path type structure name value``; ``head``,
  ``tail``, ``inc``, ``dec`` and ``add`` set root ``value`` (a string item as is, anything
  else as JSON); ``list`` gives ``<var id name value/>``, with ``path`` when ``recursive``.
- Variables are read from the database on every request: no module is reloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from evqueue.api.context import ApiContext
from evqueue.api.objects import element
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.protocol import (
    ApiError,
    Command,
    InvalidParameter,
    MissingParameter,
    Response,
    StorageTypeError,
)
from evqueue.storage import DuplicateName
from evqueue.storage import storage_module as store
from evqueue.storage.api_definitions import update_variable
from evqueue.storage.storage_module import VariableRow

__all__ = ["STRUCTURES", "TYPES", "check_name", "check_path", "check_value", "dump", "routes"]

routes = CommandTable()

TYPES = ("INT", "STRING", "BOOLEAN")
STRUCTURES = ("NONE", "ARRAY", "MAP")

_PATH_MAX, _NAME_MAX, _VALUE_MAX = 255, 64, 0xFFFFFF
_INT64 = (-(2**63), 2**63 - 1)
_SHAPES = {"ARRAY": (list, "Array"), "MAP": (dict, "Object")}


def dump(value: Any) -> str:
    """Compact JSON with sorted keys (nlohmann's ``dump()``)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _load(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(name)

    try:
        return json.loads(text, parse_constant=refuse)
    except ValueError:
        raise InvalidParameter("Invalid json") from None


def check_path(path: str) -> None:
    """Check a variable path. Raises InvalidParameter."""
    if path == "":
        raise InvalidParameter("Path cannot be empty")
    if len(path) > _PATH_MAX:
        raise InvalidParameter("Path is too long")
    if path.startswith("/") or path.endswith("/"):
        raise InvalidParameter("Path cannot start or end with /")
    if "//" in path:
        raise InvalidParameter("Path cannot contain //")


def check_name(name: str) -> None:
    """Check a variable name. Raises InvalidParameter."""
    if name == "":
        raise InvalidParameter("Name cannot be empty")
    if len(name) > _NAME_MAX:
        raise InvalidParameter("Name is too long")
    if "/" in name:
        raise InvalidParameter("Variable name cannot contain /")


def _check_item(type_: str, item: Any) -> None:
    if type_ == "INT":
        ok = type(item) is int and _INT64[0] <= item <= _INT64[1]
        expected = "Integer"
    elif type_ == "STRING":
        ok, expected = isinstance(item, str), "String"
    else:
        ok, expected = isinstance(item, bool), "Boolean"
    if not ok:
        raise InvalidParameter(
            f"Invalid json : expecting {expected} based on given type for « {dump(item)} »"
        )


def check_value(type_: str, structure: str, text: str) -> Any:
    """Parse and check a value for a variable of this type and structure.

    Returns:
        The parsed JSON value.

    Raises:
        InvalidParameter: evQueue's messages for a missing type or structure, an empty, too
            long or invalid JSON value, or a value of the wrong shape or item type.
    """
    if type_ == "":
        raise InvalidParameter("Type must be set before value")
    if structure == "":
        raise InvalidParameter("Structure must be set before value")
    if text == "":
        raise InvalidParameter("Value cannot be empty")
    if len(text) > _VALUE_MAX:
        raise InvalidParameter("Variable value is too long")
    value = _load(text)
    if structure == "NONE":
        _check_item(type_, value)
        return value
    kind, label = _SHAPES[structure]
    if not isinstance(value, kind):
        raise InvalidParameter(f"Invalid json : expecting {label} based on given structure")
    for item in value.values() if isinstance(value, dict) else value:
        _check_item(type_, item)
    return value


@dataclass
class _Variable:
    """A variable being read or changed; ``id`` 0 means not stored yet."""

    id: int
    path: str
    name: str
    type: str = ""
    structure: str = ""
    value: Any = None

    @classmethod
    def from_row(cls, row: VariableRow) -> _Variable:
        return cls(row.id, row.path, row.name, row.type, row.structure, json.loads(row.value))


def _split(path: str) -> tuple[str, str]:
    """``a/b/c`` → (``a/b``, ``c``)."""
    head, sep, tail = path.rpartition("/")
    if not sep or not tail:
        raise InvalidParameter(
            "When name is empty, path must be a absolute variable name, including path and name"
        )
    return head, tail


async def _lookup(ctx: ApiContext, cmd: Command, *, create: bool = False) -> _Variable:
    """The variable the request names (evQueue's ``get_variable_from_query``)."""
    variable_id = cmd.get_int("id", 0)
    path, name = cmd.get_str("path", ""), cmd.get_str("name", "")
    if variable_id != 0:
        row = await store.get_variable(ctx.db, variable_id)
        if row is None:
            raise ApiError(f"Variable not found : « {variable_id} »")
        return _Variable.from_row(row)
    if path and not name:
        path, name = _split(path)
    if not (path and name):
        raise MissingParameter("You must provied either « id », « path » and/or « name »")
    row = await store.find_variable(ctx.db, path, name)
    if row is not None:
        return _Variable.from_row(row)
    if create:
        check_path(path)
        check_name(name)
        return _Variable(0, path, name)
    raise ApiError(f"Variable not found : « {path}/{name} »")


async def _save(ctx: ApiContext, variable: _Variable) -> None:
    check_name(variable.name)
    check_path(variable.path)
    value = dump(variable.value)
    if variable.id == 0:
        variable.id = await store.set_variable(
            ctx.db, variable.path, variable.name, variable.type, variable.structure, value
        )
        return
    try:
        await update_variable(
            ctx.db, variable.id, path=variable.path, name=variable.name, type=variable.type,
            structure=variable.structure, value=value,
        )
    except DuplicateName:
        raise InvalidParameter(
            f"Variable « {variable.path}/{variable.name} » already exists"
        ) from None


def _scalar_text(item: Any) -> str:
    return item if isinstance(item, str) else dump(item)


@routes.command("storage", "set", modifies=True)
async def set_(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create or replace a variable (ADMIN)."""
    session.require_admin()
    variable = await _lookup(ctx, cmd, create=True)
    path, name = cmd.get_str("path", ""), cmd.get_str("name", "")
    type_, structure = cmd.get_str("type", ""), cmd.get_str("structure", "")
    text = cmd.get_str("value")
    if path and name:
        check_path(path)
        check_name(name)
        variable.path, variable.name = path, name
    if type_:
        if type_ not in TYPES:
            raise InvalidParameter(f"Invalid type : « {type_} »")
        variable.type = type_
    if structure:
        if structure not in STRUCTURES:
            raise InvalidParameter(f"Invalid structure : « {structure} »")
        variable.structure = structure
    variable.value = check_value(variable.type, variable.structure, text)
    await _save(ctx, variable)
    return Response.success()


@routes.command("storage", "append", modifies=True)
async def append(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Append to an ARRAY, or set ``key`` of a MAP (ADMIN)."""
    session.require_admin()
    variable = await _lookup(ctx, cmd)
    key, item = cmd.get_str("key", ""), _load(cmd.get_str("value"))
    wanted = "MAP" if key else "ARRAY"
    if variable.structure != wanted:
        raise StorageTypeError(f"Append can only be used on {wanted.lower()}")
    _check_item(variable.type, item)
    if key:
        variable.value[key] = item
    else:
        variable.value.append(item)
    await _save(ctx, variable)
    return Response.success()


@routes.command("storage", "inc", "dec", "add", modifies=True)
async def add(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Add 1, -1 or ``value`` to an INT NONE variable (ADMIN); replies the new ``value``."""
    session.require_admin()
    step = {"inc": 1, "dec": -1}.get(cmd.action or "")
    if step is None:
        step = cmd.get_int("value")
    variable = await _lookup(ctx, cmd)
    if variable.structure != "NONE":
        raise StorageTypeError("Add can only be used on unstructured variables")
    if variable.type != "INT":
        raise StorageTypeError("Add can only be used on integer variables")
    variable.value += step
    _check_item("INT", variable.value)
    await _save(ctx, variable)
    return Response.success({"value": dump(variable.value)})


@routes.command("storage", "unset", modifies=True)
async def unset(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a variable (ADMIN)."""
    session.require_admin()
    variable = await _lookup(ctx, cmd)
    await store.delete_variable(ctx.db, variable.id)
    return Response.success()


@routes.command("storage", "get")
async def get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """The variable as root attributes ``id path type structure name value``."""
    variable = await _lookup(ctx, cmd)
    return Response.success({
        "id": variable.id, "path": variable.path, "type": variable.type,
        "structure": variable.structure, "name": variable.name, "value": dump(variable.value),
    })


@routes.command("storage", "head", "tail")
async def head_tail(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """The first (``head``) or last (``tail``) item of an ARRAY as root ``value``."""
    variable = await _lookup(ctx, cmd)
    if variable.structure != "ARRAY":
        raise StorageTypeError(f"{(cmd.action or '').capitalize()} can only be used on array")
    if not variable.value:
        raise StorageTypeError("Array is empty")
    item = variable.value[0] if cmd.action == "head" else variable.value[-1]
    return Response.success({"value": _scalar_text(item)})


@routes.command("storage", "list")
async def list_variables(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<var id name value [path]/>`` at ``path`` (and below it when ``recursive``)."""
    path = cmd.get_str("path")
    recursive = cmd.get_bool("recursive", False)
    rows = await store.list_variables(ctx.db, path, recursive)
    payload = []
    for row in rows:
        attrs: dict[str, object] = {"id": row.id, "name": row.name, "value": row.value}
        if recursive:
            attrs["path"] = row.path
        payload.append(element("var", attrs))
    return Response.success(payload=payload)
