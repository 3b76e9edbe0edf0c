"""Task ids."""

from __future__ import annotations

import pytest

from evqueue.engine.slots import Slot, TaskSlots


def test_allocation_skips_ids_in_use_and_wraps():
    slots = TaskSlots(tid_max=3)
    assert [slots.allocate(Slot(1, str(i), "q")) for i in range(3)] == [1, 2, 3]
    with pytest.raises(RuntimeError):
        slots.allocate(Slot(1, "x", "q"))
    slots.release(2)
    assert slots.allocate(Slot(1, "y", "q")) == 2


def test_allocation_continues_after_attached_ids():
    slots = TaskSlots(tid_max=100)
    slots.attach(41, Slot(7, "3", "q", pid=99))
    assert slots.allocate(Slot(7, "4", "q")) == 42
    assert [tid for tid, _ in slots.of_instance(7)] == [41, 42]
    assert 41 in slots and len(slots) == 2
    assert slots.release(41).pid == 99 and slots.get(41) is None


def test_allocation_continues_past_tids_still_in_use():
    slots = TaskSlots(100)
    slots.skip_past([7, 3, 0, 500])  # 0 and out-of-range values are ignored
    assert slots.allocate(Slot(1, "3", "q")) == 8
