"""MailSession against an SMTP sink of the test's own: a message goes only once it is committed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lethe_common.mail import Mail, MailSession
from lethe_testing import (
    PrivateServer,
    checked_mail,
    free_port,
    private_smtp_sink,
    wait_for,
)

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

SENDER = "Lethe Tests <no-reply@lethe.invalid>"


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = private_smtp_sink(tmp_path_factory.mktemp("sink")).start()
    yield server
    server.kill()


def arrived(sink: PrivateServer) -> list[bytes]:
    folder = Path(sink.env["LETHE_MAILDIR"]) / "new"
    return [p.read_bytes() for p in folder.glob("*")] if folder.is_dir() else []


def to_of(raw: bytes) -> str:
    return str(checked_mail(raw)["To"])  # every message the sink took is checked strictly


def mail_to(sink: PrivateServer, address: str) -> bytes:
    """The one message to ``address`` in the sink's Maildir, once it is there."""
    return wait_for(
        lambda: next((raw for raw in arrived(sink) if to_of(raw) == address), None),
        10,
        what=f"the message to {address}",
    )


def test_only_committed_messages_reach_the_relay_on_one_connection(sink: PrivateServer) -> None:
    session = MailSession("127.0.0.1", sink.port, SENDER)
    decisions = iter([True, False, True])
    asked: list[str] = []

    def commit(to: str) -> bool:
        asked.append(to)
        return next(decisions)

    results = [
        session.send(Mail(to=to, subject="s", text=".leading dot\nline"), lambda to=to: commit(to))  # type: ignore[misc]
        for to in ("one@sink.example", "two@sink.example", "three@sink.example")
    ]
    session.close()
    assert results == [True, False, True]
    assert asked == ["one@sink.example", "two@sink.example", "three@sink.example"]
    first = checked_mail(mail_to(sink, "one@sink.example"))
    mail_to(sink, "three@sink.example")
    assert "two@sink.example" not in {to_of(raw) for raw in arrived(sink)}
    # dot-stuffing undone by the relay: the body is what we sent
    assert first.get_content().startswith(".leading dot\n")


def test_long_header_values_stay_on_one_line(sink: PrivateServer) -> None:
    url = "<https://lethe.example/api/v1/newsletter/unsubscribe?token=" + "a" * 150 + ">"
    session = MailSession("127.0.0.1", sink.port, SENDER)
    assert session.send(
        Mail(to="long@sink.example", subject="s", text="t", headers={"List-Unsubscribe": url}), lambda: True
    )
    session.close()
    raw = mail_to(sink, "long@sink.example")
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
    session = MailSession("127.0.0.1", sink.port, SENDER)
    assert session.send(Mail(to="jürgen@sink.example", subject="Grüße", text="Hallo Jürgen"), lambda: True)
    session.close()
    message = checked_mail(mail_to(sink, "jürgen@sink.example"))  # UTF-8 headers, SMTPUTF8
    assert message["Subject"] == "Grüße"
    assert message.get_content().strip() == "Hallo Jürgen"
