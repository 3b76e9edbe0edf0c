"""Typed configuration: every key, defaults, substitution, checks and masking."""

import os

import pytest

from evqueue.config import KEYS, Config, ConfigError, check, load_config, warnings


def write(tmp_path, text, name="evqueue.conf"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_key_parses_from_a_file(tmp_path):
    # A file that sets every key to its own default parses into the same typed values.
    text = "".join(f"{key} = '{spec.default}'\n" for key, spec in KEYS.items())
    cfg = load_config(write(tmp_path, text), environ={})
    assert dict(cfg) == dict(Config.defaults())
    assert len(cfg) == len(KEYS) > 100


def test_defaults_and_types():
    cfg = Config.defaults()
    assert cfg["network.bind.port"] == 5000
    assert cfg["core.auth.enable"] is True
    assert cfg["datastore.dom.maxsize"] == 500 * 1024
    assert cfg["datastore.db.maxsize"] == 50 * 1024 * 1024
    assert cfg["logger.db.filter"] == 4  # LOG_WARNING
    assert cfg["core.pidfile"] == "/tmp/evqueue-core.pid"
    assert cfg["network.bind.path"] == ""
    assert cfg["core.ipc.qid"] == "0xEA023E3C"
    assert cfg.node_name == "localhost"


@pytest.mark.parametrize(("raw", "value"), [("yes", True), ("true", True), ("1", True),
                                            ("no", False), ("false", False), ("0", False)])
def test_booleans(raw, value):
    assert Config.from_mapping({"gc.enable": raw})["gc.enable"] is value


@pytest.mark.parametrize(("raw", "value"), [("3", 3), ("3K", 3072), ("2M", 2 << 20),
                                            ("1G", 1 << 30)])
def test_sizes(raw, value):
    assert Config.from_mapping({"processmanager.logs.tailsize": raw})[
        "processmanager.logs.tailsize"] == value


def test_hex_integers_and_uid_by_name():
    cfg = Config.from_mapping({"gc.limit": "0x10", "core.uid": "root", "core.gid": "0"})
    assert cfg["gc.limit"] == 16
    assert cfg["core.uid"] == 0


@pytest.mark.parametrize(("key", "raw"), [("gc.enable", "maybe"), ("gc.limit", "ten"),
                                          ("processmanager.logs.tailsize", "3k"),
                                          ("workflowinstance.savepoint.level", "4"),
                                          ("queuepool.scheduler", "lifo"),
                                          ("core.uid", "no-such-user-here"),
                                          ("logger.db.filter", "LOG_LOUD")])
def test_bad_values_are_refused_with_the_key_named(key, raw):
    with pytest.raises(ConfigError) as info:
        Config.from_mapping({key: raw})
    assert key in str(info.value)


def test_bad_value_in_a_file_names_file_and_line(tmp_path):
    path = write(tmp_path, "# x\ncore.wd = /tmp\ngc.enable = maybe\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value).startswith("evqueue.conf:3: gc.enable: invalid boolean")


def test_unknown_key_names_file_and_line(tmp_path):
    path = write(tmp_path, "core.wd = /tmp\n\nnetwrk.bind.port = 5000\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value) == "evqueue.conf:3: unknown key 'netwrk.bind.port'"


def test_later_key_overrides_earlier(tmp_path):
    cfg = load_config(write(tmp_path, "gc.limit = 5\ngc.limit = 7\n"), environ={})
    assert cfg["gc.limit"] == 7


def test_quoted_hash_is_kept(tmp_path):
    cfg = load_config(write(tmp_path, "mysql.password = \"se#cret\"\n"), environ={})
    assert cfg["mysql.password"] == "se#cret"


def test_seed_placeholders_substituted_from_environment(tmp_path):
    text = ("core.ipc.qid=/data/{login}\ncore.wd=/data/{login}\n"
            "ws.bind.port={port}\ncluster.node.name={login}\ncluster.nodes={cluster}\n")
    env = {"login": "alice", "port": "5100",
           "cluster": "unix:///data/alice/evqueue.socket,unix:///data/bob/evqueue.socket"}
    cfg = load_config(write(tmp_path, text), environ=env)
    assert cfg["core.ipc.qid"] == "/data/alice"
    assert cfg["core.wd"] == "/data/alice"
    assert cfg["ws.bind.port"] == 5100
    assert cfg.node_name == "alice"
    assert cfg["cluster.nodes"] == env["cluster"]
    assert cfg.placeholders == []


def test_substitution_rule_of_the_original():
    cfg = Config.from_mapping({"core.wd": "{FOO}/{HOME_DIR}/{MISSING}/{lower_x1}/{FOO}"},
                              environ={"FOO": "bar", "HOME_DIR": "/h"})
    assert cfg["core.wd"] == "bar//h/{MISSING}/{lower_x1}/bar"
    # {lower_x1} has a digit: not a placeholder at all, so only MISSING is reported.
    assert [p.name for p in cfg.placeholders] == ["MISSING"]


def test_missing_variable_stays_verbatim_and_is_warned_with_its_line(tmp_path):
    cfg = load_config(write(tmp_path, "core.pidfile = /run/{login}.pid\n"), environ={})
    assert cfg["core.pidfile"] == "/run/{login}.pid"
    assert [(p.key, p.name, p.line) for p in cfg.placeholders] == [("core.pidfile", "login", 1)]
    assert warnings(cfg) == ["core.pidfile (line 1): placeholder {login} left as is: "
                             "environment variable 'login' is not set"]


def test_load_config_defaults_to_process_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("login", "zoe")
    cfg = load_config(write(tmp_path, "cluster.node.name = {login}\n"))
    assert cfg.node_name == "zoe"


def test_unreadable_file():
    with pytest.raises(ConfigError) as info:
        load_config("/no/such/evqueue.conf", environ={})
    assert "cannot read" in str(info.value)


def test_relative_paths_resolve_against_core_wd(tmp_path):
    cfg = Config.from_mapping({"core.wd": str(tmp_path), "processmanager.tasks.directory": "t"})
    assert cfg.path("processmanager.tasks.directory") == os.path.join(str(tmp_path), "t")
    assert cfg.path("processmanager.logs.directory") == "/tmp"


def test_check_names_the_missing_directory_key(tmp_path):
    cfg = Config.from_mapping({"processmanager.logs.directory": str(tmp_path / "nope")})
    with pytest.raises(ConfigError) as info:
        check(cfg)
    assert info.value.key == "processmanager.logs.directory"
    assert "does not exist" in str(info.value)


def test_check_refuses_half_tls():
    with pytest.raises(ConfigError, match="ws.ssl.crt and ws.ssl.key"):
        check(Config.from_mapping({"ws.ssl.crt": "/etc/crt.pem"}))


def test_check_accepts_defaults():
    check(Config.defaults())


def test_masked_hides_passwords():
    cfg = Config.from_mapping({"mysql.password": "s3", "cluster.notify.password": "x",
                               "database.url": "postgresql://evq:pw@db/evq"})
    masked = cfg.masked()
    assert masked["mysql.password"] == "****"
    assert masked["cluster.notify.password"] == "****"
    assert masked["database.url"] == "postgresql://evq:****@db/evq"
    assert list(masked) == sorted(masked)
    assert "s3" not in repr(masked)


def test_paths_stay_put_after_chdir_to_a_relative_core_wd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    cfg = Config.from_mapping({"core.wd": "var", "core.pidfile": "evqueue.pid"})
    expected = str(tmp_path / "var" / "evqueue.pid")
    assert cfg.path("core.pidfile") == expected
    monkeypatch.chdir(tmp_path / "var")
    assert cfg.path("core.pidfile") == expected
