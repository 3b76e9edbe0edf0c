"""The start journal: what the engine appends before asking for a task, read after a restart."""

from __future__ import annotations

from pathlib import Path

from evqueue.process import start_record
from evqueue.process.start_record import StartJournal


def test_records_are_read_back_by_instance_and_task(tmp_path: Path) -> None:
    journal = StartJournal(str(tmp_path), "node1")
    journal.record(7, 12, "3")
    journal.record(4, 12, "3")  # a retry's
    journal.record(9, 13, "1")
    StartJournal(str(tmp_path), "node2").record(8, 12, "3")  # another node's
    journal.close()
    assert journal.path == str(tmp_path / "node1.starts")
    assert StartJournal(str(tmp_path), "node1").read() == {(12, "3"): [4, 7], (13, "1"): [9]}
    assert StartJournal(str(tmp_path / "missing"), "node1").read() == {}


def test_a_tids_latest_line_counts(tmp_path: Path) -> None:
    journal = StartJournal(str(tmp_path), "n")
    journal.record(5, 123456, "10")
    journal.forget(5)  # stored; the tid is given again
    journal.record(5, 7, "2")
    assert StartJournal(str(tmp_path), "n").read() == {(7, "2"): [5]}


def test_incomplete_or_foreign_lines_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "n.starts").write_bytes(b"garbage\n1 12\n2 12 3 4\n\n3 12 3\n4 13 1")
    assert StartJournal(str(tmp_path), "n").read() == {(12, "3"): [3]}


def test_the_journal_is_rewritten_with_the_tids_in_use(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(start_record, "_MIN_REWRITE", 200)
    journal = StartJournal(str(tmp_path), "n")
    journal.record(1, 100, "1")  # runs for long
    for tid in range(2, 200):
        journal.record(tid, 100 + tid, "1")
        journal.forget(tid)  # stored at once
    path = tmp_path / "n.starts"
    assert path.stat().st_size < 250  # rewritten as it grew: not 198 lines
    journal.record(300, 5, "2")
    journal.close()
    # The lines of the tids in use are kept; lines of stored tasks written since the last
    # rewrite stay until the next (a restarted engine asks their status files, gone).
    records = StartJournal(str(tmp_path), "n").read()
    assert records[(100, "1")] == [1] and records[(5, "2")] == [300] and len(records) < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.starts"]


def test_a_restarted_engine_keeps_the_lines_it_knows(tmp_path: Path) -> None:
    before = StartJournal(str(tmp_path), "n")
    for tid in (1, 2, 3):
        before.record(tid, 10, str(tid))
    before.close()
    after = StartJournal(str(tmp_path), "n")
    assert after.read() == {(10, "1"): [1], (10, "2"): [2], (10, "3"): [3]}
    after.keep_only({2})
    after.record(4, 11, "1")
    after.close()
    assert StartJournal(str(tmp_path), "n").read() == {(10, "2"): [2], (11, "1"): [4]}
