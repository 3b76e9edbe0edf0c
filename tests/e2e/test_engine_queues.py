"""Queues and retries seen from the task side: concurrency, ``prio`` order, retry delays."""

from __future__ import annotations

import base64

import pytest

from tests.e2e.enginekit import EngineNode, max_overlap, one_job, read_lines, started, wait_until


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = started(EngineNode(tmp_path_factory.mktemp("queues")))
    try:
        yield node
    finally:
        node.close()


def test_concurrency_two_never_runs_more_than_two_tasks(node):
    node.queue("two", 2)
    log = node.shared / "intervals"
    node.task("span.sh", f"""
start=$(date +%s.%N)
sleep 0.15
echo "$start $(date +%s.%N) $1" >> {log}
""")
    tasks = [f"<task name='t{i}' path='span.sh' queue='two'><input>{i}</input></task>"
             for i in range(10)]
    node.workflow("twenty", one_job(*tasks))
    first, second = node.start_instance("twenty"), node.start_instance("twenty")
    stats = node.exec("<statistics action='query' type='queue'/>")
    (two,) = stats.xpath("statistics/queue[@name='two']")
    assert int(two.get("running_tasks")) <= 2 and two.get("concurrency") == "2"
    for instance_id in (first, second):
        node.wait(instance_id)
        assert node.query(instance_id).get("errors") == "0"
    spans = [tuple(map(float, line.split()[:2])) for line in read_lines(log)]
    assert len(spans) == 20
    assert max_overlap(spans) == 2, "two at a time, and the queue was kept busy"


def test_prio_queue_runs_the_oldest_instances_tasks_first(node):
    node.queue("pq", 1, "prio")
    node.queue("fq", 1, "fifo")
    node.queue("side", 5)
    for queue in ("pq", "fq"):
        order = node.shared / f"order_{queue}"
        node.task(f"block_{queue}.sh", node.gate(f"block_{queue}"))
        node.task(f"note_{queue}.sh", f'echo "$1" >> {order}')
        node.task(f"pre_{queue}.sh", node.gate(f"pre_{queue}"))
        note = f"path='note_{queue}.sh' queue='{queue}'"
        node.workflow(f"blocker_{queue}", one_job(
            f"<task name='b' path='block_{queue}.sh' queue='{queue}'/>"))
        # older: its task reaches the queue late, after a first step on another queue
        node.workflow(f"older_{queue}", f"""<workflow><subjobs><job name='pre'><tasks>
            <task name='p' path='pre_{queue}.sh' queue='side'/></tasks>
            <subjobs><job name='late'><tasks><task name='o' {note}><input>older</input></task>
            </tasks></job></subjobs></job></subjobs></workflow>""")
        node.workflow(f"newer_{queue}", one_job(
            *(f"<task name='n{i}' {note}><input>newer{i}</input></task>" for i in range(3))))
    node.task("true_step.sh", "exit 0")

    results = {}
    for queue in ("pq", "fq"):
        blocker = node.start_instance(f"blocker_{queue}")
        older = node.start_instance(f"older_{queue}")
        newer = node.start_instance(f"newer_{queue}")
        node.open_gate(f"pre_{queue}")
        wait_until(lambda o=older: node.query(o).find(
            ".//task[@name='o']").get("status") == "QUEUED")
        node.open_gate(f"block_{queue}")
        for instance_id in (blocker, older, newer):
            node.wait(instance_id)
        assert older < newer
        results[queue] = read_lines(node.shared / f"order_{queue}")
    assert results["pq"] == ["older", "newer0", "newer1", "newer2"]
    assert results["fq"] == ["newer0", "newer1", "newer2", "older"]


def test_task_failing_twice_succeeds_under_a_two_level_retry_schedule(node):
    schedule = ('<schedule><level retry_delay="1" retry_times="1"/>'
                '<level retry_delay="2" retry_times="1"/></schedule>')
    content = base64.b64encode(schedule.encode()).decode()
    answer = node.exec(f"<retry_schedule action='create' name='twolevel' content='{content}'/>")
    assert answer.get("retry-schedule-id")
    runs = node.shared / "flaky_runs"
    node.task("flaky.sh", f"""
date +%s.%N >> {runs}
n=$(wc -l < {runs})
echo "attempt $n"
[ "$n" -ge 3 ] && exit 0
exit 4
""")
    node.workflow("flaky", """<workflow>
      <automatic-tags><automatic-tag name="had-retries"
          condition="count(//task[@retry_schedule_level]) &gt; 0"/></automatic-tags>
      <subjobs><job name="j"><tasks>
        <task name="f" path="flaky.sh" queue="default" retry_schedule="twolevel"/>
      </tasks><subjobs><job name="next"><tasks>
        <task name="after" path="true_step.sh" queue="default"/></tasks></job></subjobs>
      </job></subjobs></workflow>""")
    node.task("true_step.sh", "exit 0")
    instance_id = node.start_instance("flaky")
    wait_until(lambda: node.query(instance_id).get("retrying_tasks") == "1", 10)
    retrying = node.query(instance_id).find(".//task[@name='f']")
    assert retrying.get("retry_at") and retrying.get("retry_schedule_level") == "1"
    node.wait(instance_id)
    final = node.query(instance_id)
    assert (final.get("status"), final.get("errors")) == ("TERMINATED", "0")
    task = final.find(".//task[@name='f']")
    assert (task.get("retval"), task.get("retry_schedule_level")) == ("0", "2")
    outputs = task.findall("output")
    assert [o.get("retval") for o in outputs] == ["4", "4", "0"]
    assert [o.text for o in outputs] == ["attempt 1\n", "attempt 2\n", "attempt 3\n"]
    assert final.find(".//task[@name='after']").get("retval") == "0"
    times = [float(line) for line in read_lines(runs)]
    assert len(times) == 3
    assert 0.9 <= times[1] - times[0] <= 1.9, "level 1: 1 s"
    assert 1.9 <= times[2] - times[1] <= 2.9, "level 2: 2 s"
    row = node.exec(f"<instances action='list' filter_id='{instance_id}'/>")[0]
    assert [t.get("label") for t in row.find("tags")] == ["had-retries"]
