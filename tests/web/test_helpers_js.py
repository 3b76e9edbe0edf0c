"""Pure helpers of the console: routes, history filters, node URLs, formatting, and the
small computations pages make (retry levels, configuration diff, chart scale, period buckets)."""

from __future__ import annotations

from lxml import etree

from tests.web.jsrun import needs_node, run_js

pytestmark = needs_node


def test_hash_routes_round_trip_and_match() -> None:
    got = run_js({"R": "router.js"}, """
        const p = R.parseHash('#/instances?workflow=hello%20world&offset=30&p.who=w%C3%B6rld');
        return [p, R.formatHash('/instances', { workflow: 'hello world', empty: '', offset: 30 }),
                R.matchRoute('/instance/:id', '/instance/42'),
                R.matchRoute('/instance/:id', '/instances'),
                R.matchRoute('/logs/:kind', '/logs/engine'), R.parseHash('')];""")
    query = {"workflow": "hello world", "offset": "30", "p.who": "wörld"}
    assert got[0] == {"path": "/instances", "query": query}
    assert got[1] == "#/instances?workflow=hello+world&offset=30"
    assert got[2] == {"id": "42"}
    assert got[3] is None
    assert got[4] == {"kind": "engine"}
    assert got[5] == {"path": "/", "query": {}}


def test_history_filters_become_instances_list_attributes() -> None:
    got = run_js({"F": "pages/instance-filters.js"}, """
        const q = { workflow: 'hello', errors: 'yes', node: 'node2', from: '2026-01-01 00:00:00',
                    tag: '3', 'p.who': 'wörld', 'ca.db': 'main', offset: '60', limit: '50',
                    instance: '9', empty: '' };
        return [F.listCommand(q), F.listCommand({}),
                F.describeFilters(q, (id) => `label${id}`),
                F.describeFilters({ offset: '30' })];""")
    root = etree.fromstring(got[0].encode())
    assert dict(root.attrib) == {
        "action": "list", "filter_workflow": "hello", "filter_error": "yes",
        "filter_node": "node2", "filter_launched_from": "2026-01-01 00:00:00",
        "filter_tag_id": "3", "customattribute_db": "main", "limit": "50", "offset": "60"}
    params = [(p.get("name"), p.get("value")) for p in root.findall("parameter")]
    assert params == [("who", "wörld")]
    assert got[1] == '<instances action="list" limit="30" offset="0"/>'
    assert got[2] == ("Showing failed instances of hello, launched after 2026-01-01 00:00:00, "
                      "with who = wörld, db = main, on node node2, tagged label3")
    assert got[3] == "Showing all instances"


def test_node_urls_replace_wildcard_addresses_with_the_page_host() -> None:
    got = run_js({"C": "cluster.js"}, """
        return ['ws://0.0.0.0:5001/', 'ws://*:5001/', 'ws://10.1.2.3:5001/', '127.0.0.1:5002',
                'wss://[::]:5001/x', '']
          .map((u) => C.reachableUrl(u, 'console.example'));""")
    assert got == ["ws://console.example:5001/", "ws://console.example:5001/",
                   "ws://10.1.2.3:5001/", "ws://127.0.0.1:5002/", "wss://console.example:5001/x",
                   ""]


def test_formatting_of_times_and_durations() -> None:
    got = run_js({"T": "format.js"}, """
        const noon = new Date(2026, 0, 1, 12);
        return [T.formatDuration(5), T.formatDuration(125), T.formatDuration(3720),
                T.formatDuration(90000),
                T.durationBetween('2026-01-01 10:00:00', '2026-01-01 10:02:05'),
                T.fromInputDateTime('2026-03-04T05:06'), T.toInputDateTime('2026-03-04 05:06:07'),
                T.toEngineTime(new Date(2026, 2, 4, 5, 6, 7)),
                T.clockOffset('2026-01-01 10:00:10', new Date(2026, 0, 1, 10, 0, 0).getTime()),
                T.formatWhen('2026-01-01 09:08:07', noon),
                T.formatWhen('2025-12-31 09:08:07', noon),
                T.formatWhen('2025-06-01 09:08:07', noon)];""")
    assert got == ["5 s", "2 min 05 s", "1 h 02 min", "1 d 1 h", 125, "2026-03-04 05:06:00",
                   "2026-03-04T05:06", "2026-03-04 05:06:07", 10000, "09:08:07",
                   "yesterday 09:08", "2025-06-01 09:08"]


def test_retry_schedule_levels() -> None:
    got = run_js({"R": "pages/retry-schedules.js"}, """
        const levels = [{ delay: 10, times: 3 }, { delay: 600, times: 1 }];
        return [R.describeLevels(levels), R.scheduleXml(levels)];""")
    assert got[0] == "every 10 s, 3 times, then every 10 min 00 s, 1 time"
    root = etree.fromstring(got[1].encode())
    assert [dict(level.attrib) for level in root] == [
        {"retry_delay": "10", "retry_times": "3"}, {"retry_delay": "600", "retry_times": "1"}]


def test_configuration_diff_matches_entries_by_name() -> None:
    got = run_js({"G": "pages/configuration.js"}, """
        const c = new Map([
          ['n1', new Map([['a', '1'], ['b', '2'], ['only1', 'x']])],
          ['n2', new Map([['b', '2'], ['a', '9']])],
          ['n3', new Map([['a', '1'], ['b', '2']])]]);
        const diff = (nodes) => [...G.differingKeys(c, nodes)].sort();
        return [diff(['n1', 'n2']), diff(['n2', 'n3']), diff(['n3'])];""")
    assert got == [["a", "only1"], ["a"], []]


def test_chart_scale_and_statistics_periods() -> None:
    got = run_js({"C": "chart.js", "P": "pages/statistics.js"}, """
        const now = new Date(2026, 2, 2, 15, 40);
        const d = P.buckets({ unit: 'day', count: 3 }, now);
        const h = P.buckets({ unit: 'hour', count: 2 }, now);
        const m = P.buckets({ unit: 'month', count: 3 }, now);
        return [[0, 2, 7, 42, 1234].map((v) => C.niceScale(v)), d.keys,
                P.bucketKey('day', '2026', 3, 2, 0), h.keys, m.keys, d.from.getDate(),
                m.from.getMonth()];""")
    assert got[0] == [{"max": 1, "step": 1}, {"max": 2, "step": 1}, {"max": 8, "step": 2},
                      {"max": 60, "step": 20}, {"max": 1500, "step": 500}]
    assert got[1] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    assert got[2] == "2026-03-02"
    assert got[3] == ["2026-03-02 14h", "2026-03-02 15h"]
    assert got[4] == ["2026-01", "2026-02", "2026-03"]
    assert got[5:] == [28, 0]


def test_workflow_lists_are_grouped() -> None:
    got = run_js({"W": "pages/workflows.js"}, """
        return W.groupRows([{ name: 'b', group: 'ops' }, { name: 'a', group: '' },
                            { name: 'c', group: 'ops' }]);""")
    assert got == [{"header": "No group"}, {"name": "a", "group": ""}, {"header": "ops"},
                   {"name": "b", "group": "ops"}, {"name": "c", "group": "ops"}]


def test_preferences_tolerate_bad_json() -> None:
    got = run_js({"S": "session.js"}, """
        return ['', '{"preferred_node":"n2","x":1}', '{oops'].map(S.parsePreferences);""")
    default = {"preferred_node": "", "env_name": "", "env_color": ""}
    assert got == [default, {**default, "preferred_node": "n2", "x": 1}, default]
