"""``storage``: typed variables through the API, on every backend."""

from __future__ import annotations

import pytest

from evqueue.api import storage_module
from evqueue.api.variables import check_value, dump
from evqueue.protocol import InvalidParameter
from evqueue.storage import storage_module as store
from tests.api.helpers import Api, plain_user

pytestmark = pytest.mark.backends


@pytest.fixture
def api(db):
    return Api(db, [storage_module])


async def test_set_get_list_unset(api: Api, db) -> None:
    await api.ok("<storage action='set' path='app/env' name='hosts' type='STRING' "
                 "structure='ARRAY' value='[\"a\", \"b\"]'/>")
    row = await store.find_variable(db, "app/env", "hosts")
    assert row.value == '["a","b"]'
    assert await api.raw(f"<storage action='get' id='{row.id}'/>") == (
        f'<response id="{row.id}" name="hosts" node="node1" path="app/env" status="OK" '
        'structure="ARRAY" type="STRING" value="[&quot;a&quot;,&quot;b&quot;]"/>'
    ).encode()
    # path alone may hold path/name; set keeps the type and structure when not given.
    await api.ok("<storage action='set' path='app/env/hosts' value='[\"c\"]'/>")
    got = await api.ok("<storage action='get' path='app/env' name='hosts'/>")
    assert (got.get("value"), got.get("type")) == ('["c"]', "STRING")
    # set by id may move and retype the variable.
    await api.ok(f"<storage action='set' id='{row.id}' path='app' name='count' type='INT' "
                 "structure='NONE' value='41'/>")
    assert (await store.get_variable(db, row.id)).path == "app"
    await api.ok("<storage action='set' path='app' name='flags' type='BOOLEAN' structure='MAP' "
                 "value='{\"z\": true, \"a\": false}'/>")
    assert (await store.find_variable(db, "app", "flags")).value == '{"a":false,"z":true}'

    flat = await api.ok("<storage action='list' path='app'/>")
    assert [dict(v.attrib) for v in flat] == [
        {"id": str(row.id), "name": "count", "value": "41"},
        {"id": str((await store.find_variable(db, "app", "flags")).id), "name": "flags",
         "value": '{"a":false,"z":true}'},
    ]
    await api.ok("<storage action='set' path='app/deep' name='x' type='INT' structure='NONE' "
                 "value='1'/>")
    deep = await api.ok("<storage action='list' path='app' recursive='yes'/>")
    assert [(v.get("path"), v.get("name")) for v in deep] == [
        ("app", "count"), ("app", "flags"), ("app/deep", "x")]
    everything = await api.ok("<storage action='list' path='' recursive='yes'/>")
    assert len(everything) == 3
    assert len(await api.ok("<storage action='list' path='other'/>")) == 0

    await api.ok("<storage action='unset' path='app/deep/x'/>")
    assert await store.find_variable(db, "app/deep", "x") is None
    assert api.changed == []  # variables are read from the database: nothing to reload


async def test_append_arithmetic_head_tail(api: Api) -> None:
    await api.ok("<storage action='set' path='p' name='arr' type='INT' structure='ARRAY' "
                 "value='[1]'/>")
    await api.ok("<storage action='append' path='p' name='arr' value='2'/>")
    await api.ok("<storage action='append' path='p/arr' value='3'/>")
    assert (await api.ok("<storage action='head' path='p/arr'/>")).get("value") == "1"
    assert (await api.ok("<storage action='tail' path='p/arr'/>")).get("value") == "3"
    assert (await api.ok("<storage action='get' path='p/arr'/>")).get("value") == "[1,2,3]"

    await api.ok("<storage action='set' path='p' name='names' type='STRING' structure='ARRAY' "
                 "value='[\"x y\"]'/>")
    assert (await api.ok("<storage action='tail' path='p/names'/>")).get("value") == "x y"

    await api.ok("<storage action='set' path='p' name='map' type='STRING' structure='MAP' "
                 "value='{}'/>")
    await api.ok("<storage action='append' path='p/map' key='k' value='\"v\"'/>")
    assert (await api.ok("<storage action='get' path='p/map'/>")).get("value") == '{"k":"v"}'

    await api.ok("<storage action='set' path='p' name='n' type='INT' structure='NONE' "
                 "value='10'/>")
    assert (await api.ok("<storage action='inc' path='p/n'/>")).get("value") == "11"
    assert (await api.ok("<storage action='dec' path='p/n'/>")).get("value") == "10"
    assert (await api.ok("<storage action='add' path='p/n' value='-15'/>")).get("value") == "-5"
    assert (await api.ok("<storage action='get' path='p/n'/>")).get("value") == "-5"


async def test_errors(api: Api) -> None:
    await api.ok("<storage action='set' path='p' name='s' type='STRING' structure='NONE' "
                 "value='\"x\"'/>")
    await api.ok("<storage action='set' path='p' name='e' type='INT' structure='ARRAY' "
                 "value='[]'/>")
    cases = [
        ("<storage action='get'/>", "MISSING_PARAMETER",
         "You must provied either « id », « path » and/or « name »"),
        ("<storage action='get' path='flat'/>", "INVALID_PARAMETER",
         "When name is empty, path must be a absolute variable name, including path and name"),
        ("<storage action='get' id='999999'/>", None, "Variable not found : « 999999 »"),
        ("<storage action='get' path='p' name='nope'/>", None, "Variable not found : « p/nope »"),
        ("<storage action='set' path='p' name='v' value='1'/>", "INVALID_PARAMETER",
         "Type must be set before value"),
        ("<storage action='set' path='p' name='v' type='INT' value='1'/>", "INVALID_PARAMETER",
         "Structure must be set before value"),
        ("<storage action='set' path='p' name='v' type='INT' structure='NONE'/>",
         "MISSING_PARAMETER", "Missing 'value' attribute"),
        ("<storage action='set' path='p' name='v' type='INT' structure='NONE' value=''/>",
         "INVALID_PARAMETER", "Value cannot be empty"),
        ("<storage action='set' path='p' name='v' type='FLOAT' structure='NONE' value='1'/>",
         "INVALID_PARAMETER", "Invalid type : « FLOAT »"),
        ("<storage action='set' path='p' name='v' type='INT' structure='SET' value='1'/>",
         "INVALID_PARAMETER", "Invalid structure : « SET »"),
        ("<storage action='set' path='p' name='v' type='INT' structure='NONE' value='1.5'/>",
         "INVALID_PARAMETER", "Invalid json : expecting Integer based on given type for « 1.5 »"),
        ("<storage action='set' path='p' name='v' type='INT' structure='NONE' value='true'/>",
         "INVALID_PARAMETER",
         "Invalid json : expecting Integer based on given type for « true »"),
        ("<storage action='set' path='p' name='v' type='INT' structure='ARRAY' value='1'/>",
         "INVALID_PARAMETER", "Invalid json : expecting Array based on given structure"),
        ("<storage action='set' path='p' name='v' type='INT' structure='NONE' value='{'/>",
         "INVALID_PARAMETER", "Invalid json"),
        ("<storage action='set' path='p' name='v' type='INT' structure='NONE' value='NaN'/>",
         "INVALID_PARAMETER", "Invalid json"),
        ("<storage action='set' path='/p' name='v' type='INT' structure='NONE' value='1'/>",
         "INVALID_PARAMETER", "Path cannot start or end with /"),
        ("<storage action='set' path='a//b' name='v' type='INT' structure='NONE' value='1'/>",
         "INVALID_PARAMETER", "Path cannot contain //"),
        (f"<storage action='set' path='p' name='{'n' * 65}' type='INT' structure='NONE' "
         "value='1'/>", "INVALID_PARAMETER", "Name is too long"),
        (f"<storage action='set' path='{'p' * 256}' name='v' type='INT' structure='NONE' "
         "value='1'/>", "INVALID_PARAMETER", "Path is too long"),
        ("<storage action='append' path='p/s' value='\"y\"'/>", "TYPE_ERROR",
         "Append can only be used on array"),
        ("<storage action='append' path='p/s' key='k' value='\"y\"'/>", "TYPE_ERROR",
         "Append can only be used on map"),
        ("<storage action='append' path='p/e' value='\"y\"'/>", "INVALID_PARAMETER",
         "Invalid json : expecting Integer based on given type for « \"y\" »"),
        ("<storage action='append' path='p/e' value='oops'/>", "INVALID_PARAMETER",
         "Invalid json"),
        ("<storage action='inc' path='p/s'/>", "TYPE_ERROR",
         "Add can only be used on integer variables"),
        ("<storage action='inc' path='p/e'/>", "TYPE_ERROR",
         "Add can only be used on unstructured variables"),
        ("<storage action='add' path='p/e'/>", "MISSING_PARAMETER", "Missing 'value' attribute"),
        ("<storage action='add' path='p/e' value='x'/>", "INVALID_INTEGER",
         "Attribute 'value' has invalid integer value"),
        ("<storage action='head' path='p/s'/>", "TYPE_ERROR", "Head can only be used on array"),
        ("<storage action='tail' path='p/e'/>", "TYPE_ERROR", "Array is empty"),
        ("<storage action='list'/>", "MISSING_PARAMETER", "Missing 'path' attribute"),
        ("<storage action='list' path='p' recursive='deep'/>", "INVALID_BOOLEAN",
         "Attribute 'recursive' has invalid boolean value"),
        ("<storage action='unset' path='p/none'/>", None, "Variable not found : « p/none »"),
    ]
    for xml, code, message in cases:
        await api.ko(xml, code, message)
    # Moving a variable onto another one is refused.
    s_id = (await api.ok("<storage action='get' path='p/s'/>")).get("id")
    await api.ko(f"<storage action='set' id='{s_id}' path='p' name='e' value='\"v\"'/>",
                 "INVALID_PARAMETER", "Variable « p/e » already exists")


async def test_rights(api: Api) -> None:
    await api.ok("<storage action='set' path='p' name='a' type='INT' structure='ARRAY' "
                 "value='[1, 2]'/>")
    user = plain_user()
    for xml in ("<storage action='set' path='p' name='b' type='INT' structure='NONE' "
                "value='1'/>",
                "<storage action='append' path='p/a' value='3'/>",
                "<storage action='inc' path='p/a'/>", "<storage action='dec' path='p/a'/>",
                "<storage action='add' path='p/a' value='1'/>",
                "<storage action='unset' path='p/a'/>"):
        await api.ko(xml, "INSUFFICIENT_RIGHTS", "insufficient rights", as_user=user)
    assert (await api.ok("<storage action='get' path='p/a'/>", as_user=user)).get("value") \
        == "[1,2]"
    assert (await api.ok("<storage action='head' path='p/a'/>", as_user=user)).get("value") \
        == "1"
    await api.ok("<storage action='tail' path='p/a'/>", as_user=user)
    assert len(await api.ok("<storage action='list' path='p'/>", as_user=user)) == 1


def test_values_without_database() -> None:
    assert check_value("BOOLEAN", "MAP", '{"b": true}') == {"b": True}
    assert dump({"é": "ü", "a": [1, None]}) == '{"a":[1,null],"é":"ü"}'
    with pytest.raises(InvalidParameter, match="expecting Object"):
        check_value("INT", "MAP", "[1]")
    with pytest.raises(InvalidParameter, match="expecting String"):
        check_value("STRING", "ARRAY", '["a", 1]')
    with pytest.raises(InvalidParameter, match="expecting Integer"):
        check_value("INT", "NONE", str(2**63))
