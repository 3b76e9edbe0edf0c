"""Jobs and tasks: chaining through outputs, job loops, parent jobs, evqWait, errors."""

from __future__ import annotations

from evqueue.engine.actions import InstanceEnded
from evqueue.model import xpath
from tests.engine.drive import Driver, Outcome, make_instance
from tests.engine.workflows import CHAIN, simple

SERVERS = '<servers><server name="web1"/><server name="web2"/><server name="db1"/></servers>'


def chain(t2_output: str) -> Driver:
    def script(command):
        return {"t1": Outcome(0, SERVERS), "t2": Outcome(0, t2_output)}.get(command.name,
                                                                             Outcome(0, "t3"))
    return Driver(make_instance(CHAIN), script).start().run()


class TestChain:
    def test_output_feeds_the_next_task(self):
        d = chain("go\n")
        t2 = d.task("t2")
        assert [(i.get("name"), i.text) for i in t2.iterfind("input")] == [
            ("host", "web1"), ("count", "3")]
        assert d.commands[1].args == ("web1", "3")

    def test_condition_on_output_holds(self):
        d = chain("go\n")
        t3 = d.task("t3")
        assert t3.get("status") == "TERMINATED"
        assert t3.get("details") == "Condition evaluates to true" and t3.get("condition") is None
        assert [c.name for c in d.commands] == ["t1", "t2", "t3"]
        assert d.ended == InstanceEnded(1, 0)

    def test_condition_on_output_fails(self):
        d = chain("stop\n")
        t3 = d.task("t3")
        assert t3.get("status") == "SKIPPED"
        assert t3.get("details") == "Condition evaluates to false"
        assert [c.name for c in d.commands] == ["t1", "t2"]
        assert d.ended == InstanceEnded(1, 0)


LOOP = """<workflow><subjobs>
  <job name="list"><tasks><task name="ls" path="ls" queue="default" output-method="XML"/></tasks>
    <subjobs>
      <job name="each" loop="evqGetOutput('ls')/servers/server">
        <tasks>
          <task name="visit" path="visit" queue="default">
            <input name="server"><value select="evqGetCurrentJob()/evqGetContext()/@name"/></input>
            <input name="same"><value select="@name"/></input>
          </task>
        </tasks>
        <subjobs><job name="deeper"><tasks>
          <task name="deep" path="deep" queue="default">
            <input><value select="evqGetParentJob()/evqGetContext()/@name"/></input>
          </task>
        </tasks></job></subjobs>
      </job>
    </subjobs>
  </job>
</subjobs></workflow>"""


class TestJobLoop:
    def run(self) -> Driver:
        return Driver(make_instance(LOOP), lambda c: Outcome(0, SERVERS if c.name == "ls"
                                                              else "")).start().run()

    def test_one_task_per_item(self):
        d = self.run()
        visits = [c for c in d.commands if c.name == "visit"]
        assert [c.args for c in visits] == [("web1", "web1"), ("web2", "web2"), ("db1", "db1")]
        clones = d.root.xpath("//job[@name='each']")
        assert len(clones) == 3
        assert len({c.get("evqid") for c in clones}) == 3
        items = d.root.xpath("//output//server")
        assert [c.get("context-id") for c in clones] == [i.get("evqid") for i in items]

    def test_sub_job_reads_its_parent_loop_item(self):
        d = self.run()
        assert [c.args for c in d.commands if c.name == "deep"] == [
            ("web1",), ("web2",), ("db1",)]
        assert d.ended == InstanceEnded(1, 0)

    def test_large_loop_keeps_one_node_tree(self, monkeypatch):
        built = []
        original = xpath.NodeTree
        monkeypatch.setattr(xpath, "NodeTree", lambda root: built.append(root) or original(root))
        servers = "<servers>" + "".join(f'<server name="s{i}"/>' for i in range(300)) + "</servers>"
        d = Driver(make_instance(LOOP), lambda c: Outcome(0, servers if c.name == "ls" else ""))
        d.start().run()
        # 300 clones evaluated and rewritten: the node tree was built once, then patched
        assert len(built) == 1
        visits = [c for c in d.commands if c.name == "visit"]
        assert len(visits) == 300 and visits[-1].args == ("s299", "s299")
        assert d.ended == InstanceEnded(1, 0)

    def test_zero_iterations_remove_the_job_and_go_on(self):
        d = Driver(make_instance(LOOP), lambda c: Outcome(0, "<servers/>")).start().run()
        assert d.root.xpath("//job[@name='each']") == []
        assert d.ended == InstanceEnded(1, 0)


NESTED = """<workflow><subjobs>
  <job name="top"><tasks><task name="t" path="t" queue="default"/></tasks>
    <subjobs><job name="mid"><tasks><task name="m" path="m" queue="default"/></tasks>
      <subjobs><job name="low"><tasks>
        <task name="l" path="l" queue="default">
          <input name="grand"><value select="evqGetParentJob(1)/evqGetOutput('t')"/></input>
          <input name="parent"><value select="evqGetOutput('m')"/></input>
          <input name="byname"><value select="evqGetParentJob('top')/@name"/></input>
        </task>
      </tasks></job></subjobs>
    </job></subjobs>
  </job>
</subjobs></workflow>"""


def test_sub_sub_job_reads_grandparent_output():
    d = Driver(make_instance(NESTED), lambda c: Outcome(0, f"from {c.name}")).start().run()
    low = next(c for c in d.commands if c.name == "l")
    assert low.args == ("from t", "from m", "top")


def test_evqwait_releases_a_job():
    xml = simple('<task name="first" path="a" queue="default"/>',
                 '<task name="second" path="b" queue="default"/>',
                 extra_jobs='<job name="gate" condition="evqWait(count(//task[@name=\'second\']'
                            '/output[@retval=0]) &gt; 0)"><tasks>'
                            '<task name="after" path="c" queue="default"/></tasks></job>')
    d = Driver(make_instance(xml)).start()
    gate = d.job("gate")
    assert gate.get("status") == "WAITING"
    queued = d.queued.popleft()  # "first" ends before "second" starts
    d.handle(d.instance.task_running(queued.evqid, 1, 1, d.now))
    d.end(queued.evqid)
    assert gate.get("status") == "WAITING"  # "first" ended, the condition is still false
    d.run()
    assert gate.get("status") is None and d.task("after").get("status") == "TERMINATED"
    assert [c.name for c in d.commands] == ["second", "after"]
    assert d.ended == InstanceEnded(1, 0)


def test_waiting_does_not_keep_the_instance_alive():
    xml = simple('<task name="a" path="a" queue="default"/>',
                 extra_jobs='<job name="never" condition="evqWait(false())"><tasks>'
                            '<task name="n" path="n" queue="default"/></tasks></job>')
    d = Driver(make_instance(xml)).start().run()
    assert d.job("never").get("status") == "WAITING"
    assert d.ended == InstanceEnded(1, 0)


def test_bad_xpath_aborts_only_that_job():
    xml = simple('<task name="a" path="a" queue="default"/>').replace(
        "</tasks></job>",
        '</tasks><subjobs>'
        '<job name="broken" condition="count(("><tasks><task name="x" path="x" queue="default"/>'
        '</tasks></job>'
        '<job name="fine"><tasks><task name="y" path="y" queue="default"/></tasks></job>'
        '</subjobs></job>'
        '<job name="sibling"><tasks><task name="z" path="z" queue="default"/></tasks></job>')
    d = Driver(make_instance(xml)).start().run()
    broken = d.job("broken")
    assert broken.get("status") == "ABORTED"
    assert broken.get("error").startswith(
        "Error evaluating condition : XPath expression error in 'count(('.")
    # the remaining siblings of the failing job are not started
    assert d.job("fine").get("evqid") is None
    assert d.task("z").get("status") == "TERMINATED"  # another branch goes on
    assert d.ended == InstanceEnded(1, 1)
    assert d.job("main").get("error_tasks") == "1"


def test_non_boolean_condition_is_an_error():
    d = Driver(make_instance(simple('<task name="t" path="x" queue="default" '
                                    'condition="count(/workflow)"/>'))).start()
    task = d.task("t")
    assert task.get("status") == "ABORTED"
    assert task.get("error").endswith("XPath returned error : Expected boolean result")
    assert d.job("main").get("status") == "ABORTED"
    assert d.ended == InstanceEnded(1, 1)


def test_division_by_zero_is_an_error_not_a_crash():
    d = Driver(make_instance(simple('<task name="t" path="x" queue="default" '
                                    'condition="(5 mod 0) = 1"/>'))).start()
    assert "Division by zero" in d.task("t").get("error")


def test_all_tasks_skipped_start_the_subjobs():
    xml = simple('<task name="s" path="s" queue="default" condition="1 = 2"/>').replace(
        "</tasks></job>", '</tasks><subjobs><job name="sub"><tasks>'
        '<task name="t" path="t" queue="default"/></tasks></job></subjobs></job>')
    d = Driver(make_instance(xml)).start()
    assert d.task("t").get("status") == "QUEUED"


def test_instance_of_skipped_jobs_ends_at_start():
    d = Driver(make_instance(simple('<task name="t" path="x" queue="default"/>',
                                    job_attrs='condition="false()"'))).start()
    assert d.job("main").get("status") == "SKIPPED"
    assert d.ended == InstanceEnded(1, 0) and d.root.get("status") == "TERMINATED"


def test_task_loop_clones_tasks():
    xml = simple('<task name="t" path="t" queue="default" loop="(/workflow/@name, /workflow/'
                 'subjobs/job/@name)" iteration-condition=". != \'skipme\'">'
                 '<input><value select="."/></input></task>')
    d = Driver(make_instance(xml)).start().run()
    tasks = d.root.xpath("//task[@name='t']")
    assert [t.find("input").text for t in tasks] == ["wf", "main"]
    assert [t.get("context-id") for t in tasks] == ["1/@name", "2/@name"]
    assert len({t.get("evqid") for t in tasks}) == 2
