"""Ids and savepoint records by savepoint level."""

from __future__ import annotations

import datetime

from lxml import etree

from evqueue.engine import EngineSettings, Spilled, StoredInstance
from evqueue.engine.persistence import Persistence
from tests.engine.drive import HOLD, Driver, make_instance
from tests.engine.fakes import MemoryStore
from tests.engine.workflows import simple

NOW = datetime.datetime(2024, 1, 10, 10, 0, 0)
WF = simple('<task name="t" path="/x" queue="default" output-method="XML"/>').replace(
    "<workflow>", '<workflow><parameters><parameter name="p"/></parameters>')


async def test_level_two_inserts_a_row_with_parameters():
    store = MemoryStore()
    persistence = Persistence(store, EngineSettings(environ={}, node_name="n1"))
    instance = make_instance(WF, {"p": "v"}, host="h", comment="c")
    instance_id = await persistence.new_id(instance, NOW)
    row = store.rows[instance_id]
    assert (row.status, row.node_name, row.host, row.comment) == ("EXECUTING", "n1", "h", "c")
    unstarted = etree.fromstring(row.savepoint.encode())  # in the insert's own transaction
    assert (unstarted.get("id"), unstarted.get("status")) == (str(instance_id), None)
    assert store.parameters[instance_id] == (("p", "v"),)


async def test_low_levels_use_a_sequence():
    store = MemoryStore()
    store.rows[9] = StoredInstance(9, 1, None, "n", "TERMINATED", "<workflow/>")
    persistence = Persistence(store, EngineSettings(environ={}, savepoint_level=0))
    await persistence.prime([12])
    assert [await persistence.sequence() for _ in range(2)] == [13, 14]
    assert store.writes == []


async def test_write_records():
    persistence = Persistence(MemoryStore(), EngineSettings(environ={}, savepoint_level=2))
    instance = make_instance(WF, {"p": "v"})
    running = persistence.write(instance, terminal=False)
    assert running.custom_filters is None and running.insert is False
    final = persistence.write(instance, terminal=True)
    assert final.custom_filters == () and final.tags == ()


async def test_records_carry_the_times_the_instance_xml_shows_as_datetimes():
    store = MemoryStore()
    launches = []
    create = store.create_instance

    async def create_and_keep(row, *, alone=False):  # type: ignore[no-untyped-def]
        launches.append(row)
        return await create(row, alone=alone)

    store.create_instance = create_and_keep  # type: ignore[method-assign]
    persistence = Persistence(store, EngineSettings(environ={}, node_name="n1"))
    instance = make_instance(simple('<task name="t" path="/x" queue="default"/>'))
    launched = NOW + datetime.timedelta(microseconds=250000)
    instance.id = await persistence.new_id(instance, launched)
    assert launches[0].start_time == launched
    assert persistence.write(instance, terminal=False).start_time is None  # not started
    driver = Driver(instance, lambda command: HOLD, now=launched).start().run()
    running = persistence.write(instance, terminal=False)
    assert (running.start_time, running.end_time) == (NOW, None)  # the XML's whole seconds
    driver.advance(3)
    driver.end(*driver.running)
    ended = persistence.write(instance, terminal=True)
    assert ended.end_time == NOW + datetime.timedelta(seconds=3)
    assert (instance.root.get("start_time"), instance.root.get("end_time")) == (
        "2024-01-10 10:00:00", "2024-01-10 10:00:03")


async def test_large_texts_are_spilled_except_xml_output():
    store = MemoryStore()
    persistence = Persistence(store, EngineSettings(environ={}, dom_maxsize=4))
    instance = make_instance(WF, {"p": "v"})
    evqid = "3"
    instance.start(NOW)
    ok = await persistence.task_result(instance, evqid, 0, "<r>big</r>", "abc", None)
    assert ok.stdout == "<r>big</r>" and ok.stderr == "abc" and ok.log is None
    failed = await persistence.task_result(instance, evqid, 1, "<r>big</r>", "stderr!", "")
    assert failed.stdout == Spilled(datastore_id=1) and failed.stderr == Spilled(datastore_id=2)
    assert store.datastore == {1: "<r>big</r>", 2: "stderr!"}


async def test_level_two_coalesces_changes_and_the_final_write_supersedes_them():
    store = MemoryStore()
    persistence = Persistence(store, EngineSettings(environ={}, savepoint_window=60))
    running, ending = make_instance(WF, {"p": "v"}), make_instance(WF, {"p": "v"}, instance_id=2)
    for instance in (running, ending):
        instance.start(NOW)
        persistence.changed(instance)
        persistence.changed(instance)
    assert store.writes == []  # within the window
    persistence.ended(ending)
    await persistence.flush()
    assert sorted((w.instance_id, w.status) for w in store.writes) == [
        (1, "EXECUTING"), (2, "EXECUTING")]
    assert [w.custom_filters is None for w in store.writes if w.instance_id == 2] == [False]


async def test_levels_other_than_two_and_three_write_nothing_while_running():
    for level in (0, 1):
        store = MemoryStore()
        persistence = Persistence(store, EngineSettings(environ={}, savepoint_level=level))
        instance = make_instance(WF, {"p": "v"})
        instance.start(NOW)
        persistence.changed(instance)
        await persistence.flush()
        assert store.writes == []
