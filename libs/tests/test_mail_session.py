"""MailSession against an SMTP sink of the test's own: a message goes only once it is committed."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from lethe_common.mail import Mail, MailSession
from lethe_common.testing import PrivateServer, free_port, private_smtp_sink, wait_for

SENDER = "Lethe Tests <no-reply@lethe.invalid>"


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = private_smtp_sink(tmp_path_factory.mktemp("sink")).start()
    yield server
    server.kill()


def arrived(sink: PrivateServer) -> list[bytes]:
    folder = Path(sink.env["LETHE_MAILDIR"]) / "new"
    return [p.read_bytes() for p in sorted(folder.glob("*"))] if folder.is_dir() else []


def test_only_committed_messages_reach_the_relay_on_one_connection(sink: PrivateServer) -> None:
    before = len(arrived(sink))
    session = MailSession("127.0.0.1", sink.port, SENDER)
    decisions = iter([True, False, True])
    asked: list[str] = []

    def commit(to: str) -> bool:
        asked.append(to)
        return next(decisions)

    results = [session.send(Mail(to=to, subject="s", text=".leading dot\nline"),
                            lambda to=to: commit(to))  # type: ignore[misc]
               for to in ("one@sink.example", "two@sink.example", "three@sink.example")]
    session.close()
    assert results == [True, False, True]
    assert asked == ["one@sink.example", "two@sink.example", "three@sink.example"]
    messages = wait_for(lambda: arrived(sink)[before:] if len(arrived(sink)) >= before + 2 else None,
                        10, what="two messages")
    parsed = [message_from_bytes(raw, policy=default_policy) for raw in messages]
    assert [m["To"] for m in parsed] == ["one@sink.example", "three@sink.example"]
    # dot-stuffing undone by the relay: the body is what we sent
    assert parsed[0].get_content().startswith(".leading dot\n")


def test_long_header_values_stay_on_one_line(sink: PrivateServer) -> None:
    url = "<https://lethe.example/api/v1/newsletter/unsubscribe?token=" + "a" * 150 + ">"
    before = len(arrived(sink))
    session = MailSession("127.0.0.1", sink.port, SENDER)
    assert session.send(Mail(to="long@sink.example", subject="s", text="t",
                             headers={"List-Unsubscribe": url}), lambda: True)
    session.close()
    raw = wait_for(lambda: arrived(sink)[before:] or None, 10, what="the message")[0]
    assert f"List-Unsubscribe: {url}\n".encode() in raw.replace(b"\r\n", b"\n")


def test_an_unreachable_relay_raises_and_the_next_call_reconnects(sink: PrivateServer) -> None:
    session = MailSession("127.0.0.1", free_port(), SENDER, timeout=2)
    with pytest.raises(OSError):
        session.send(Mail(to="x@sink.example", subject="s", text="t"), lambda: True)
    assert session.in_doubt is False
    session._port = sink.port  # the relay is back (same object, as after an outage)
    assert session.send(Mail(to="x@sink.example", subject="s", text="t"), lambda: True)
    session.close()


def test_an_international_address_goes_with_smtputf8(sink: PrivateServer) -> None:
    before = len(arrived(sink))
    session = MailSession("127.0.0.1", sink.port, SENDER)
    assert session.send(Mail(to="jürgen@sink.example", subject="Grüße", text="Hallo Jürgen"),
                        lambda: True)
    session.close()
    raw = wait_for(lambda: arrived(sink)[before:] or None, 10, what="the message")[0]
    message = message_from_bytes(raw, policy=default_policy)
    assert message["To"] == "jürgen@sink.example"
    assert message.get_content().strip() == "Hallo Jürgen"
