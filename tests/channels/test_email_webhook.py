"""Email against a real local SMTP server (aiosmtpd); webhooks against a verifying receiver."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from siyu.channels.email import EmailTransport, SmtpSettings, unsubscribe_link
from siyu.channels.models import Channel, OutboundMessage, RetryableSendError, SendError
from siyu.channels.webhook import WebhookTransport, signature_header, verify_signature
from siyu.core.errors import AuthError
from tests.channels.fake_http import Received, serve

AT = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)


class Inbox:
    """An aiosmtpd handler keeping what it was sent; some recipients are refused."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 no such user"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail(**kw: object) -> OutboundMessage:
    base: dict[str, object] = {
        "id": "msg_1",
        "workspace_id": "ws_1",
        "person_id": "p_1",
        "channel": Channel.EMAIL,
        "recipient": "li@example.com",
        "template": "hello",
        "params": {},
        "content": "李雷，您有 120 积分将到期。",
        "sender": "brand@shop.example",
        "idempotency_key": "journey:j1:n2:p_1",
        "extra": {"subject": "积分提醒", "purpose": "marketing"},
    }
    return OutboundMessage(**(base | kw))  # type: ignore[arg-type]


def test_email_reaches_a_real_smtp_server_with_unsubscribe_headers(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    link = unsubscribe_link("https://shop.example/u", b"k" * 32)
    transport = EmailTransport(
        SmtpSettings(host="127.0.0.1", port=port, from_name="私域"), link, lambda: AT
    )
    first = transport.send(mail())
    again = transport.send(mail())  # a resend carries the same Message-ID
    assert first.provider_message_id == again.provider_message_id
    sender, rcpts, raw = inbox.mails[0]
    parsed = message_from_bytes(raw, policy=policy.default)
    assert (sender, rcpts) == ("brand@shop.example", ["li@example.com"])
    assert str(parsed["Subject"]) == "积分提醒"
    assert parsed.get_content().strip() == "李雷，您有 120 积分将到期。"
    assert (
        str(parsed["List-Unsubscribe"])
        .strip()
        .startswith("<https://shop.example/u?token=ws_1.p_1.email.")
    )
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(parsed["Message-ID"]) == first.provider_message_id
    transactional = transport.send(mail(extra={"subject": "发货通知", "purpose": "transactional"}))
    assert transactional.provider_message_id
    last = message_from_bytes(inbox.mails[-1][2], policy=policy.default)
    assert last["List-Unsubscribe"] is None


def test_smtp_refusals_are_sorted_into_retry_and_give_up(smtp: tuple[Inbox, int]) -> None:
    _, port = smtp
    transport = EmailTransport(SmtpSettings(host="127.0.0.1", port=port))
    with pytest.raises(SendError) as gone:
        transport.send(mail(recipient="gone@example.com"))
    assert not isinstance(gone.value, RetryableSendError)
    with pytest.raises(RetryableSendError):
        transport.send(mail(recipient="busy@example.com"))
    down = EmailTransport(SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2))
    with pytest.raises(RetryableSendError):
        down.send(mail())


def test_webhook_signature_round_trip_and_refusals() -> None:
    secret, body = b"whsec", b'{"a":1}'
    header = signature_header(secret, int(AT.timestamp()), body)
    assert verify_signature(secret=secret, header=header, body=body, now=AT) == int(AT.timestamp())
    spaced = header.replace(",", ", ")
    assert verify_signature(secret=secret, header=spaced, body=body, now=AT) == int(AT.timestamp())
    for bad in (
        {"secret": b"other", "header": header, "body": body, "now": AT},
        {"secret": secret, "header": header, "body": b'{"a":2}', "now": AT},
        {"secret": secret, "header": header, "body": body, "now": AT + timedelta(minutes=6)},
        {"secret": secret, "header": "v1=abc", "body": body, "now": AT},
    ):
        with pytest.raises(AuthError):
            verify_signature(**bad)  # type: ignore[arg-type]


def test_webhook_posts_signed_json_to_a_verifying_receiver() -> None:
    secret = b"whsec_test"

    def receiver(req: Received) -> tuple[int, object, dict[str, str]]:
        try:
            verify_signature(
                secret=secret, header=req.headers["x-siyu-signature"], body=req.body, now=AT
            )
        except AuthError:
            return 401, {"error": "bad signature"}, {}
        if orjson.loads(req.body)["params"].get("fail") == "yes":
            return 503, {"error": "down"}, {}
        return 200, {"ok": True}, {"X-Request-Id": "rcv-1"}

    with serve(receiver) as rcv, httpx.Client(timeout=5) as client:
        hook = OutboundMessage(
            id="msg_9",
            workspace_id="ws_1",
            person_id="p_1",
            channel=Channel.WEBHOOK,
            recipient=rcv.url + "/hooks/siyu",
            template="crm",
            params={"tier": "gold"},
            idempotency_key="k-9",
        )
        delivery = WebhookTransport(secret, client, lambda: AT).send(hook)
        assert delivery.provider_message_id == "rcv-1"
        got = rcv.received[0]
        assert got.path == "/hooks/siyu" and got.headers["idempotency-key"] == "k-9"
        assert orjson.loads(got.body)["params"] == {"tier": "gold"}
        with pytest.raises(SendError) as refused:
            WebhookTransport(b"wrong", client, lambda: AT).send(hook)
        assert not isinstance(refused.value, RetryableSendError)
        with pytest.raises(RetryableSendError):
            WebhookTransport(secret, client, lambda: AT).send(
                hook.model_copy(update={"params": {"fail": "yes"}})
            )


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (key, cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def test_starttls_is_used_when_asked_and_the_certificate_is_checked(tmp_path: Path) -> None:
    key_path, cert_path = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True
    )
    controller.start()
    try:
        plain = EmailTransport(SmtpSettings(host="127.0.0.1", port=port))
        with pytest.raises(SendError):  # the server insists on STARTTLS: 530
            plain.send(mail())
        untrusted = EmailTransport(SmtpSettings(host="127.0.0.1", port=port, starttls=True))
        with pytest.raises(SendError) as refused:  # the system CAs do not know this certificate
            untrusted.send(mail())
        assert "certificate" in str(refused.value)
        assert not isinstance(refused.value, RetryableSendError)
        trusted = ssl.create_default_context(cafile=str(cert_path))
        tls = EmailTransport(
            SmtpSettings(host="127.0.0.1", port=port, starttls=True, tls_context=trusted)
        )
        tls.send(mail())
    finally:
        controller.stop()
    assert len(inbox.mails) == 1
