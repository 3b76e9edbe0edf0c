"""glibc's wordexp through evqueue.process.wordexp: the words evQueue gets for a task path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evqueue.process.wordexp import WordExpCode, WordExpError, needs_isolation, wordexp

ENV = {"HOME": "/home/evq", "EMPTY": ""}


@pytest.mark.parametrize(("line", "words"), [
    # quotes protect $0 and $1 for the shell: sh -c gets them as its own parameters
    ("/bin/sh -c 'echo $0-$1' X", ["/bin/sh", "-c", "echo $0-$1", "X"]),
    ("'$HOME' \"$HOME\" $HOME ${HOME}", ["$HOME", "/home/evq", "/home/evq", "/home/evq"]),
    ("~ ~/bin/x ~root a~", ["/home/evq", "/home/evq/bin/x", "/root", "a~"]),
    ("a $UNSET b $EMPTY c", ["a", "b", "c"]),
    ("\"$UNSET\" '' \"\"", ["", "", ""]),
    ("$((1+2)) \"$((6*7))\"", ["3", "42"]),
    ('a "b c" d\\ e \'f  g\'', ["a", "b c", "d e", "f  g"]),
    ("\"a|b\" a\\|b 'a;b' \"<>\" '(){}&'", ["a|b", "a|b", "a;b", "<>", "(){}&"]),
    ("${#HOME} $$X", ["9", f"{os.getpid()}X"]),
    ("é 'ü x'", ["é", "ü x"]),
    ("", []),
    ("  \t ", []),
])
def test_words(line: str, words: list[str]) -> None:
    assert wordexp(line, environ=ENV) == words


def test_command_substitution_runs_only_when_allowed() -> None:
    line = "$(echo sub) `echo back` \"$(echo a b)\" $(echo c d)"
    assert wordexp(line, commands=True, environ=ENV) == ["sub", "back", "a b", "c", "d"]
    with pytest.raises(WordExpError) as refused:
        wordexp(line, environ=ENV)
    assert refused.value.code is WordExpCode.CMDSUB
    for nocmd in ("`echo x`", "\"$(echo x)\"", "a $(echo x) |"):
        with pytest.raises(WordExpError, match="WRDE_CMDSUB"):
            wordexp(nocmd, environ=ENV)


def test_a_refused_character_after_a_substitution_fails_when_commands_run() -> None:
    with pytest.raises(WordExpError) as refused:
        wordexp("$(echo a) |", commands=True, environ=ENV)
    assert refused.value.code is WordExpCode.BADCHAR


@pytest.mark.parametrize("line", [
    "a | b", "a < b", "a > b", "a ; b", "a & b", "a\nb", "a (b", "a )b", "a {b", "a }b",
])
def test_unquoted_special_characters_are_refused(line: str) -> None:
    for commands in (False, True):
        with pytest.raises(WordExpError) as refused:
            wordexp(line, commands=commands, environ=ENV)
        assert refused.value.code is WordExpCode.BADCHAR
        assert str(refused.value).startswith("WRDE_BADCHAR: ")


@pytest.mark.parametrize("line", ["\"open", "'open", "a\\", "x $((1+", "${HOME"])
def test_syntax_errors(line: str) -> None:
    with pytest.raises(WordExpError) as refused:
        wordexp(line, environ=ENV)
    assert refused.value.code is WordExpCode.SYNTAX


def test_a_nul_character_is_refused() -> None:
    with pytest.raises(WordExpError, match="NUL") as refused:
        wordexp("a\0b")
    assert refused.value.code is WordExpCode.BADCHAR


def test_every_code_has_its_own_message() -> None:
    messages = {str(WordExpError(code)) for code in WordExpCode}
    assert messages == {
        "WRDE_NOSPACE: out of memory",
        "WRDE_BADCHAR: unquoted character among newline | & ; < > ( ) { }",
        "WRDE_BADVAL: undefined shell variable",
        "WRDE_CMDSUB: command substitution not allowed here",
        "WRDE_SYNTAX: syntax error (unbalanced quotes, parentheses or braces)",
    }


def test_globs_match_from_the_working_directory(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a1", "a2", "b1"):
        (tmp_path / name).touch()
    monkeypatch.chdir(tmp_path)
    assert wordexp("x a* ?1 'a*' z*", environ=ENV) == ["x", "a1", "a2", "a1", "b1", "a*", "z*"]


def test_the_given_environment_is_used_for_the_call_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVQ_WORDEXP_TEST", "process")
    assert wordexp("$EVQ_WORDEXP_TEST", environ={"EVQ_WORDEXP_TEST": "given"}) == ["given"]
    assert wordexp("$EVQ_WORDEXP_TEST") == ["process"]
    assert os.environ["EVQ_WORDEXP_TEST"] == "process"


def test_ifs_of_the_environment_splits_expansions() -> None:
    assert wordexp("$P 'c:d'", environ={"IFS": ":", "P": "a:b"}) == ["a", "b", "c:d"]


def test_literal_text_is_split_on_blanks_whatever_the_environment_says() -> None:
    given = {"IFS": ":", "HOME": "/nowhere"}
    assert wordexp("a b:c\td", environ=given) == ["a", "b:c", "d"]
    assert wordexp("~/x a:b", environ=given) == ["/nowhere/x", "a:b"]


def test_undecodable_bytes_round_trip() -> None:
    name = os.fsdecode(b"caf\xe9")  # not UTF-8: a surrogate escape
    assert wordexp(f"/tmp/{name} '{name}'") == [f"/tmp/{name}", name]


@pytest.mark.parametrize(("line", "isolate"), [
    ("/bin/tool -v 'a b' $HOME ${HOME} ${#HOME} $$ $0 ~ *.txt", False),
    ("$(echo sub) `echo back` \"$\" '$' a$", False),
    ("x \\$$Y $ y", False),
    ("$((1+2))", True),
    ("$(())", True),
    ("$(($UNSET))", True),
    ("$[1]", True),
    ("${UNSET:?}", True),
    ("${#HOME+}", True),
    ("${HOME:-x}", True),
    ("$@ $*", True),
    ("$#", True),
    ("'$((1))'", True),  # quoted, harmless, still isolated: the check ignores quotes
    ("\\$$(())", True),  # an escaped $ does not hide the next one
])
def test_needs_isolation(line: str, isolate: bool) -> None:
    assert needs_isolation(line) is isolate
