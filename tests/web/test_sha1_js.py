"""sha1.js (SHA-1, HMAC-SHA1) and the login challenge of connection.js, against Python's
hashlib/hmac and the worked example of protocol.md §2.2."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

from lxml import etree

from tests.web.jsrun import needs_node, run_js

pytestmark = needs_node

MODULES = {"S": "sha1.js", "C": "connection.js"}


def test_documented_vectors() -> None:
    got = run_js(MODULES, """
        return [S.sha1Hex(''), S.sha1Hex('abc'), S.sha1Hex('admin'),
                S.toHex(S.hmacSha1(new Uint8Array(20).fill(0x0b), 'Hi There')),
                S.toHex(S.hmacSha1('key', 'The quick brown fox jumps over the lazy dog'))];""")
    assert got == [
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "a9993e364706816aba3e25717850c26c9cd0d89d",
        "d033e22ae348aeb5660fc2140aec35850c4da997",
        "b617318655057264e28bc0b6fb378c8ef146be00",
        "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9",
    ]


def test_sha1_matches_hashlib_across_block_boundaries() -> None:
    rng = random.Random(7)
    # 55/56/63/64/65 bytes are where the padding needs one or two extra blocks.
    lengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4097]
    messages = [rng.randbytes(n) for n in lengths]
    got = run_js(MODULES, f"return {json.dumps([m.hex() for m in messages])}"
                 ".map((h) => S.toHex(S.sha1(S.fromHex(h))));")
    assert got == [hashlib.sha1(m).hexdigest() for m in messages]


def test_sha1_of_text_is_of_its_utf8_bytes() -> None:
    texts = ["é", "pässwörd", "日本語のパスワード", "emoji 🚀 !", "a'b\"c<d>"]
    got = run_js(MODULES, f"return {json.dumps(texts)}.map((t) => S.sha1Hex(t));")
    assert got == [hashlib.sha1(t.encode()).hexdigest() for t in texts]


def test_hmac_matches_python_for_every_key_size() -> None:
    rng = random.Random(11)
    # Keys longer than the 64-byte block are hashed first; shorter ones are zero-padded.
    cases = [(rng.randbytes(k), rng.randbytes(m)) for k, m in
             [(0, 10), (1, 0), (20, 20), (63, 100), (64, 64), (65, 5), (200, 300)]]
    payload = json.dumps([[k.hex(), m.hex()] for k, m in cases])
    got = run_js(MODULES, f"""
        return {payload}.map(([k, m]) => S.toHex(S.hmacSha1(S.fromHex(k), S.fromHex(m))));""")
    assert got == [hmac.new(k, m, hashlib.sha1).hexdigest() for k, m in cases]


def test_challenge_response_is_protocols_worked_example() -> None:
    got = run_js(MODULES, """
        const challenge = '0123456789abcdef0123456789abcdef01234567';
        return C.challengeResponse(S.sha1Hex('admin'), challenge);""")
    assert got == "8c201efd7d0c1be0949953033b755e2f35cb9c17"


def test_challenge_response_matches_the_engine_formula() -> None:
    rng = random.Random(3)
    cases = [("admin", rng.randbytes(20).hex()), ("pässwörd", rng.randbytes(20).hex()),
             ("", rng.randbytes(20).hex())]
    payload = json.dumps(cases)
    got = run_js(MODULES, f"""
        return {payload}.map(([p, c]) => C.challengeResponse(S.sha1Hex(p), c));""")
    expected = [hmac.new(hashlib.sha1(p.encode()).digest(), bytes.fromhex(c), hashlib.sha1)
                .hexdigest() for p, c in cases]
    assert got == expected


def test_auth_message_is_valid_xml_for_any_user_name() -> None:
    got = run_js(MODULES, "return C.authMessage(`o'brien \"x\" <&>`, 'abc');")
    root = etree.fromstring(got.encode())
    assert root.tag == "auth"
    assert root.get("user") == "o'brien \"x\" <&>"
    assert root.get("response") == "abc"


def test_from_hex_refuses_bad_input() -> None:
    got = run_js(MODULES, """
        const out = [];
        for (const h of ['abc', 'zz', '0g']) {
          try { S.fromHex(h); out.push('accepted'); } catch { out.push('refused'); }
        }
        return out;""")
    assert got == ["refused", "refused", "refused"]
