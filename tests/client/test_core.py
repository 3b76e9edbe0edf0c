"""The client's sans-I/O core, fed with the server's literal bytes."""

from __future__ import annotations

import pytest

from evqueue.client.core import ClientProtocol, ConnectionClosed, command_bytes, hmac_key
from evqueue.protocol import (
    AuthError,
    Command,
    InsufficientRights,
    UnexpectedException,
    UnknownCommand,
    UnknownObjectName,
)

CHALLENGE = b'<auth challenge="0123456789abcdef0123456789abcdef01234567" node="n1" status="OK"/>\n'
READY = (b'<ready node="n1" profile="ADMIN" status="OK" time="2026-11-27 17:25:47" version="3.3">'
         b"<modules/></ready>\n")


def messages(protocol: ClientProtocol, data: bytes) -> list:
    protocol.receive_data(data)
    found = []
    while (message := protocol.next_message()) is not None:
        found.append(message)
    return found


def test_login_answers_the_challenge_with_the_documented_hmac():
    protocol = ClientProtocol("admin", hmac_key("admin"))
    (challenge,) = messages(protocol, CHALLENGE)
    # protocol.md §2.2 worked example
    assert protocol.login_step(challenge) == (
        b'<auth response="8c201efd7d0c1be0949953033b755e2f35cb9c17" user="admin"/>\n')
    assert not protocol.ready
    (ready,) = messages(protocol, READY)
    assert protocol.login_step(ready) is None
    assert protocol.ready and protocol.greeting.get("profile") == "ADMIN"


def test_password_hash_is_the_same_key():
    assert hmac_key(password_hash="d033e22ae348aeb5660fc2140aec35850c4da997") == hmac_key("admin")
    assert hmac_key() is None
    with pytest.raises(AuthError):
        hmac_key(password_hash="xyz")


def test_server_without_authentication_greets_first():
    protocol = ClientProtocol()
    (ready,) = messages(protocol, READY)
    assert protocol.login_step(ready) is None and protocol.ready


def test_challenge_without_credentials_is_an_auth_error():
    protocol = ClientProtocol()
    (challenge,) = messages(protocol, CHALLENGE)
    with pytest.raises(AuthError, match="requires authentication"):
        protocol.login_step(challenge)


def test_refusals_during_login_raise_their_typed_error():
    protocol = ClientProtocol("admin", hmac_key("x"))
    protocol.login_step(messages(protocol, CHALLENGE)[0])
    (refusal,) = messages(protocol, b'<response error="Invalid authentication" '
                                    b'error-code="AUTH_ERROR" node="n1" status="KO"/>\n')
    with pytest.raises(AuthError, match="Invalid authentication"):
        protocol.login_step(refusal)
    (second,) = messages(protocol, CHALLENGE)
    with pytest.raises(UnexpectedException, match="Unexpected message 'auth'"):
        protocol.login_step(second)


def test_keepalive_pings_are_skipped_and_split_bytes_wait():
    protocol = ClientProtocol()
    assert messages(protocol, b"<ping />\n<ping />\n<resp") == []
    (response,) = messages(protocol, b'onse node="n1" status="OK" workflow-instance-id="5"/>\n')
    assert ClientProtocol.result(response).get("workflow-instance-id") == "5"


@pytest.mark.parametrize(("data", "error", "code"), [
    (b'<response error="Unknown command or action" error-code="UNKNOWN_COMMAND" node="n1" '
     b'status="KO"/>', UnknownCommand, "UNKNOWN_COMMAND"),
    (b'<response error="Unknown Workflow name : x" error-code="UKNOWN_OBJECT" node="n1" '
     b'status="KO"/>', UnknownObjectName, "UKNOWN_OBJECT"),
    (b'<response error="insufficient rights" error-code="INSUFFICIENT_RIGHTS" node="n1" '
     b'status="KO"/>', InsufficientRights, "INSUFFICIENT_RIGHTS"),
])
def test_ko_responses_raise_the_class_of_their_code(data, error, code):
    protocol = ClientProtocol()
    (response,) = messages(protocol, data + b"\n")
    with pytest.raises(error) as caught:
        ClientProtocol.result(response)
    assert caught.value.code == code
    assert caught.value.response is response


def test_ko_without_code_and_unknown_codes():
    protocol = ClientProtocol()
    plain, odd = messages(protocol, b'<response error="Unknown datastore entry" node="n1" '
                                    b'status="KO"/>\n<response error="e" error-code="NEW_CODE"'
                                    b' node="n1" status="KO"/>\n')
    with pytest.raises(Exception) as caught:
        ClientProtocol.result(plain)
    assert (caught.value.message, caught.value.code) == ("Unknown datastore entry", None)
    with pytest.raises(Exception) as caught:
        ClientProtocol.result(odd)
    assert caught.value.code == "NEW_CODE"


def test_server_closing_between_messages():
    protocol = ClientProtocol()
    protocol.receive_eof()
    with pytest.raises(ConnectionClosed):
        protocol.next_message()


def test_command_bytes():
    assert command_bytes("<ping/>") == b"<ping/>\n"
    assert command_bytes(b"<ping/>\n\n") == b"<ping/>\n"
    built = Command.build("instance", {"action": "launch", "name": "w"}, [("d", "1")])
    assert command_bytes(built) == (
        b'<instance action="launch" name="w"><parameter name="d" value="1"/></instance>\n')
