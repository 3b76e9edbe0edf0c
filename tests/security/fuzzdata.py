"""Inputs for fuzzing the XML API: real commands, attack documents, and ways to break them.

Rules:
- Every generator takes a :class:`random.Random`, so an input is rebuilt from its seed alone:
  the CI tests draw seeds with hypothesis, ``tests/soak/fuzz_api.py`` walks seeds 0…N, and a
  failure in either is replayed with ``fuzz_input(random.Random(seed))``.
- :data:`CORPUS` holds at least one well-formed command of every command group a node serves,
  with plausible attributes, so mutations start from what handlers actually parse.
- :data:`ATTACKS` are complete hostile documents (entity expansion, external entities,
  XInclude, deep nesting, huge attributes, invalid UTF-8, other encodings); each must be
  refused or read as inert data, never expanded or fetched.
- :func:`attribute_value` draws the values the command fuzzer puts in attributes: numbers at
  and past every integer limit, base64 of garbage and of broken definitions, paths, XPath,
  names of objects that exist on a fresh node.
"""

from __future__ import annotations

import base64
import random
import string

__all__ = [
    "ATTACKS",
    "ATTRIBUTE_NAMES",
    "CORPUS",
    "SPLICES",
    "attribute_value",
    "deep_nesting",
    "fuzz_input",
    "mutate",
    "random_document",
    "xxe_documents",
]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


_WORKFLOW = ("<workflow><parameters><parameter name='p'/></parameters><subjobs><job name='j'>"
             "<tasks><task name='t' path='/bin/true' queue='default'><input>"
             "<value select=\"evqGetWorkflowParameter('p')\"/></input></task></tasks></job>"
             "</subjobs></workflow>")
_RETRY = "<schedule><level retry_delay='1' retry_times='2'/></schedule>"

#: One or more well-formed command of every group (mutation seeds).
CORPUS: tuple[bytes, ...] = tuple(c.encode() for c in (
    "<ping/>",
    "<quit/>",
    "<status action='query' type='configuration'/>",
    "<status action='query' type='workflows' limit='10'/>",
    "<status action='query' type='scheduler'/>",
    "<statistics action='query' type='global'/>",
    "<statistics action='query' type='queue'/>",
    "<statistics action='reset' type='global'/>",
    "<control action='reload' module='all' notify='no'/>",
    "<control action='retry'/>",
    "<control action='syncnotifications' notify='no'/>",
    "<xpath action='parse' expression=\"evqGetWorkflowParameter('p')\"/>",
    "<logs action='list' limit='5' offset='0' filter_level='LOG_NOTICE'/>",
    "<logsapi action='list' limit='5'/>",
    "<logsnotifications action='list' limit='5'/>",
    "<datastore action='get' id='1'/>",
    "<filesystem action='list' path='/'/>",
    "<processmanager action='tail' tid='1' type='stdout'/>",
    "<cluster action='list'/>",
    f"<workflow action='create' name='fz' group='g' comment='c' content='{_b64(_WORKFLOW)}'/>",
    f"<workflow action='edit' id='1' name='fz' content='{_b64(_WORKFLOW)}'/>",
    "<workflow action='get' name='fz'/>",
    "<workflow action='delete' id='1'/>",
    "<workflow action='subscribe_notification' id='1' notification_id='1'/>",
    "<workflow action='list_notifications' id='1'/>",
    "<workflows action='list' full='yes'/>",
    "<queue action='create' name='fq' concurrency='2' scheduler='fifo' dynamic='no'/>",
    "<queue action='edit' id='1' name='default' concurrency='1' scheduler='prio' dynamic='no'/>",
    "<queue action='get' id='1'/>",
    "<queuepool action='list'/>",
    f"<retry_schedule action='create' name='fr' content='{_b64(_RETRY)}'/>",
    "<retry_schedules action='list'/>",
    "<workflow_schedule action='create' workflow_id='1' node='node1' schedule='0;*;*;*;*;*'"
    " onfailure='CONTINUE' active='yes'><parameter name='p' value='v'/></workflow_schedule>",
    "<workflow_schedule action='lock' id='1'/>",
    "<workflow_schedules action='list' display_parameters='yes'/>",
    "<user action='create' name='fu' password='pw' profile='USER'/>",
    "<user action='grant' id='2' workflow_id='1' read='yes' exec='no' edit='no' kill='no'/>",
    "<user action='get' name='admin'/>",
    "<user action='list_module_rights' id='1' module='storage' type='launcher'/>",
    "<users action='list'/>",
    "<tag action='create' label='fuzz'/>",
    "<tags action='list'/>",
    "<notification_type action='register' zip='UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=='/>",
    "<notification_types action='list'/>",
    "<notification action='create' type_id='1' name='n' subscribe_all='no'"
    f" parameters='{_b64('{}')}'/>",
    "<notifications action='list' scope='*'/>",
    "<launcher action='create' name='l' workflow_id='1' user='' host='' parameters='{}'/>",
    "<launchers action='list'/>",
    "<display action='create' name='d' path='a/b' order='ASC' item_title='t'"
    " item_content='c'/>",
    "<displays action='listgroups'/>",
    "<storage action='set' path='fz/v' type='INT' structure='ARRAY' value='[1,2]'/>",
    "<storage action='append' path='fz/v' value='3'/>",
    "<storage action='list' path='fz' recursive='yes'/>",
    "<instance action='launch' name='fz' mode='asynchronous'><parameter name='p' value='1'/>"
    "</instance>",
    "<instance action='query' id='1'/>",
    "<instance action='wait' id='1' timeout='1'/>",
    "<instance action='killtask' id='1' pid='1'/>",
    "<instance action='tag' id='1' tag_id='1'/>",
    "<instances action='list' limit='10' filter_workflow='fz' filter_status='TERMINATED'/>",
    "<instances action='list' groupby='day'/>",
    "<git action='list_workflows'/>",
    "<?xml version='1.0' encoding='utf-8'?>\n<ping/>",
    "<ping a='&lt;&amp;&#x41;&#65;'>text<![CDATA[<x/>]]><!-- c --></ping>",
))


def deep_nesting(depth: int, tag: str = "a") -> bytes:
    """``<ping><a><a>…</a></a></ping>`` nested ``depth`` levels under the root."""
    return b"<ping>" + f"<{tag}>".encode() * depth + f"</{tag}>".encode() * depth + b"</ping>"


def xxe_documents(url: str) -> dict[str, bytes]:
    """Documents that would make a careless parser fetch ``url`` (an http:// listener)."""
    return {
        "external-dtd": f'<!DOCTYPE ping SYSTEM "{url}"><ping/>'.encode(),
        "external-entity": (f'<!DOCTYPE ping [<!ENTITY e SYSTEM "{url}">]>'
                            '<ping a="&e;">&e;</ping>').encode(),
        "parameter-entity": (f'<!DOCTYPE ping [<!ENTITY % p SYSTEM "{url}"> %p;]>'
                             '<ping/>').encode(),
        "xinclude": (f'<ping xmlns:xi="http://www.w3.org/2001/XInclude">'
                     f'<xi:include href="{url}" parse="text"/></ping>').encode(),
        "schema-location": (f'<ping xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                            f'xsi:noNamespaceSchemaLocation="{url}"/>').encode(),
    }


_LAUGHS = ("<!DOCTYPE lolz [<!ENTITY lol 'lol'>"
           + "".join(f"<!ENTITY lol{i} '{('&lol' + str(i - 1) + ';') * 10}'>"
                     for i in range(1, 10)).replace("&lol0;", "&lol;")
           + "]><ping a='&lol9;'>&lol9;</ping>")

#: Complete hostile documents, by name.
ATTACKS: dict[str, bytes] = {
    "billion-laughs": _LAUGHS.encode(),
    "quadratic-blowup": ("<!DOCTYPE p [<!ENTITY a '" + "x" * 50_000 + "'>]><ping>"
                         + "&a;" * 1000 + "</ping>").encode(),
    "xxe-file": b'<!DOCTYPE p [<!ENTITY e SYSTEM "file:///etc/passwd">]><ping a="&e;">&e;</ping>',
    "xxe-proc": b'<!DOCTYPE p [<!ENTITY e SYSTEM "/proc/self/environ">]><ping>&e;</ping>',
    "xinclude-file": (b'<ping xmlns:xi="http://www.w3.org/2001/XInclude">'
                      b'<xi:include href="/etc/passwd" parse="text"/></ping>'),
    "undeclared-entity": b"<ping a='&e;'/>",
    "undeclared-entity-text": b"<ping>&nbsp;</ping>",
    "char-ref-nul": b"<ping a='&#0;'/>",
    "char-ref-too-big": b"<ping a='&#x110000;'/>",
    "char-ref-surrogate": b"<ping a='&#xD800;'/>",
    "deep-300": deep_nesting(300),
    "deep-100k": deep_nesting(100_000),
    "deep-unclosed": b"<ping>" + b"<a>" * 200_000,
    "wide-attributes": b"<ping " + b" ".join(f"a{i}='{i}'".encode()
                                                for i in range(50_000)) + b"/>",
    "duplicate-attribute": b"<ping a='1' a='2'/>",
    "huge-attribute": b"<ping a='" + b"x" * (3 * 1024 * 1024) + b"'/>",
    "huge-name": b"<" + b"p" * 200_000 + b"/>",
    "huge-text": b"<ping>" + b"y" * (3 * 1024 * 1024) + b"</ping>",
    "many-children": b"<ping>" + b"<parameter name='a' value='b'/>" * 100_000 + b"</ping>",
    "invalid-utf8": b"<ping a='\xff\xfe'/>",
    "overlong-utf8": b"<ping a='\xc0\xbc'/>",
    "utf8-surrogate": b"<ping a='\xed\xa0\x80'/>",
    "utf8-in-name": b"<p\xe9ng/>",
    "truncated-utf8": b"<ping a='\xe2\x82'/>",
    "nul-byte": b"<ping a='\x00'/>",
    "control-char": b"<ping a='\x01'/>",
    "utf16-declared": b"<?xml version='1.0' encoding='UTF-16'?><ping/>",
    "utf16-bytes": "<?xml version='1.0' encoding='UTF-16'?><ping/>".encode("utf-16"),
    "ebcdic-declared": b"<?xml version='1.0' encoding='EBCDIC-US'?><ping/>",
    "unknown-encoding": b"<?xml version='1.0' encoding='x-nonsense'?><ping/>",
    "latin1-declared": b"<?xml version='1.0' encoding='ISO-8859-1'?><ping a='\xe9'/>",
    "xml-1.1": b"<?xml version='1.1'?><ping a='&#x1;'/>",
    "two-declarations": b"<?xml version='1.0'?><?xml version='1.0'?><ping/>",
    "processing-instruction": b"<?xml-stylesheet href='http://127.0.0.1:1/x'?><ping/>",
    "namespace-bomb": b"<ping " + b" ".join(f"xmlns:n{i}='u{i}'".encode()
                                              for i in range(20_000)) + b"/>",
    "cdata-unclosed": b"<ping><![CDATA[" + b"z" * 10_000,
    "comment-unclosed": b"<ping><!-- " + b"z" * 10_000,
    "only-close": b"</ping>",
    "text-first": b"hello world\n",
    "empty-root-name": b"<>",
    "bom-then-garbage": b"\xef\xbb\xbfgarbage",
}

#: Fragments spliced into inputs by :func:`mutate`.
SPLICES: tuple[bytes, ...] = (
    b"<!DOCTYPE p [<!ENTITY e 'x'>]>", b"&e;", b"&amp;", b"&#0;", b"&#x10FFFF;", b"]]>",
    b"<![CDATA[", b"<!--", b"-->", b"<?pi x?>", b"\xff", b"\xc0\x80", b"\xed\xa0\x80",
    b"\x00", b"\r\n", b"<", b">", b"/>", b"</", b"'", b'"', b"=", b" a='1'",
    b"<parameter name='p' value='v'/>", b"<a>" * 40, b"</a>" * 40, b"\xef\xbb\xbf",
    b"<?xml version='1.0'?>", b"xmlns:x='u'", b"x:y", b"\t", b"<ping/>", b"<quit/>",
)


def mutate(data: bytes, rng: random.Random, rounds: int | None = None) -> bytes:
    """Apply ``rounds`` random edits (flip, insert, delete, duplicate, splice, truncate)."""
    buffer = bytearray(data)
    for _ in range(rounds if rounds is not None else rng.randint(1, 6)):
        position = rng.randint(0, len(buffer))
        operation = rng.randrange(7)
        if operation == 0 and buffer:  # flip one byte
            index = min(position, len(buffer) - 1)
            buffer[index] = rng.randrange(256)
        elif operation == 1:  # insert random bytes
            buffer[position:position] = rng.randbytes(rng.randint(1, 8))
        elif operation == 2:  # delete a range
            buffer[position:position + rng.randint(1, 16)] = b""
        elif operation == 3 and buffer:  # duplicate a range
            start = rng.randrange(len(buffer))
            buffer[position:position] = buffer[start:start + rng.randint(1, 64)]
        elif operation == 4:  # splice a hostile fragment
            buffer[position:position] = rng.choice(SPLICES)
        elif operation == 5:  # truncate
            del buffer[position:]
        else:  # swap in a printable character
            if buffer:
                buffer[min(position, len(buffer) - 1)] = ord(rng.choice(string.printable))
    return bytes(buffer)


_TAGS = ("ping", "instance", "workflow", "parameter", "a", "x:y", "_z", "n-1")
_ATTRS = ("action", "id", "name", "value", "a", "content", "type")


def random_document(rng: random.Random, depth: int = 0) -> bytes:
    """A random, mostly well-formed element tree (the root when ``depth`` is 0)."""
    tag = rng.choice(_TAGS).encode()
    attrs = b"".join(f" {name}='{rng.randint(-5, 5)}'".encode()
                     for name in rng.sample(_ATTRS, rng.randint(0, 3)))
    if depth > 4 or rng.random() < 0.4:
        return b"<" + tag + attrs + b"/>"
    children = b"".join(random_document(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    text = rng.choice([b"", b"t", b"&lt;", b" \n "])
    return b"<" + tag + attrs + b">" + text + children + b"</" + tag + b">"


def fuzz_input(rng: random.Random) -> bytes:
    """One input for the stream reader: mostly mutated commands, sometimes attacks, random
    trees, random bytes, or several commands in a row."""
    kind = rng.random()
    if kind < 0.55:
        return mutate(rng.choice(CORPUS), rng)
    if kind < 0.65:
        return rng.choice(list(ATTACKS.values()))
    if kind < 0.75:
        return mutate(rng.choice(list(ATTACKS.values()))[:4096], rng)
    if kind < 0.85:
        return random_document(rng)
    if kind < 0.92:
        return b"\n".join(rng.choice(CORPUS) for _ in range(rng.randint(2, 5)))
    return rng.randbytes(rng.randint(0, 64))


#: Attribute names that commands read (plus a few that none does).
ATTRIBUTE_NAMES: tuple[str, ...] = (
    "id", "name", "content", "group", "comment", "type", "limit", "offset", "module", "notify",
    "expression", "path", "tid", "mode", "timeout", "host", "user", "pid", "tag_id",
    "workflow_id", "notification_id", "type_id", "parameters", "subscribe_all", "scope", "zip",
    "concurrency", "scheduler", "dynamic", "label", "password", "profile", "preferences",
    "read", "exec", "edit", "kill", "node", "schedule", "onfailure", "active", "value",
    "structure", "key", "recursive", "order", "item_title", "item_content", "launcher_id",
    "user_id", "description", "filter_level", "filter_node", "filter_workflow", "filter_status",
    "filter_launched_until", "filter_launched_from", "groupby", "full", "display_parameters",
    "commit_log", "force", "wait", "bogus", "",
)

_NUMBERS = ("0", "1", "2", "-1", "2147483647", "2147483648", "-2147483649",
            "9223372036854775808", "99999999999999999999999", " 7", "+3", "3abc", "0x10", "1e9",
            "١٢٣", "")


def attribute_value(rng: random.Random) -> str:
    """A value for any attribute: numbers at limits, base64 garbage, text, paths, XPath."""
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice(_NUMBERS)
    if kind == 1:  # base64 of garbage, possibly broken
        raw = base64.b64encode(rng.randbytes(rng.randint(0, 48))).decode()
        return raw if rng.random() < 0.5 else raw[: rng.randint(0, len(raw))] + "%$"
    if kind == 2:  # base64 of a broken or hostile definition
        source = rng.choice([_WORKFLOW, _RETRY, _LAUGHS, ATTACKS["xxe-file"].decode()])
        return base64.b64encode(mutate(source.encode(), rng, rng.randint(0, 3))).decode()
    if kind == 3:
        return rng.choice(("yes", "no", "true", "ADMIN", "USER", "fifo", "prio", "ASC",
                           "synchronous", "asynchronous", "stdout", "INT", "ARRAY", "MAP",
                           "default", "admin", "node1", "any", "all", "global", "*"))
    if kind == 4:
        return rng.choice(("/", "..", "../../etc", "/etc/passwd", "a//b", "a/", "~root",
                           "$(touch /tmp/evq_fuzz)", "`id`", "; rm -rf /", "%n%s%x"))
    if kind == 5:
        return rng.choice(("evqGetWorkflowParameter('p')", "1 to 3", "//*", "concat('a','b')",
                           "evqGetOutput(", "'" * 3, "doc('/etc/passwd')",
                           "unparsed-text('/etc/passwd')", "1 div 0"))
    if kind == 6:
        return "x" * rng.choice((64, 65, 255, 256, 4096))
    if kind == 7:
        return "".join(rng.choice("aé漢\U0001f600 <>&'\"\t\n") for _ in range(rng.randint(0, 12)))
    if kind == 8:
        return "[1,2]" if rng.random() < 0.5 else '{"a": [' * 40
    return "".join(rng.choice(string.ascii_letters + string.digits + "_-.@")
                   for _ in range(rng.randint(0, 20)))
