"""Email over SMTP (``smtplib``): plain text, STARTTLS optional, one-click List-Unsubscribe.

SMTP has no idempotency key. The Message-ID is derived from the message's key, so a resend
after a crash (send accepted, commit lost) carries the same Message-ID: receivers and
mailbox providers that de-duplicate on it show one mail; others may show two.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from siyu.channels.consent import unsubscribe_token
from siyu.channels.models import (
    Channel,
    Delivery,
    OutboundMessage,
    Purpose,
    RetryableSendError,
    SendError,
)
from siyu.core.clock import utcnow


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand mail over."""

    host: str
    port: int = 587
    from_addr: str = ""
    from_name: str = ""
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    tls_context: ssl.SSLContext | None = None  # default: the system's CAs, hostname checked


def unsubscribe_link(base_url: str, secret: bytes) -> Callable[[OutboundMessage], str]:
    """A maker of signed unsubscribe links ``base_url?token=…`` for the email transport."""

    def link(message: OutboundMessage) -> str:
        token = unsubscribe_token(
            secret=secret,
            workspace_id=message.workspace_id,
            person_id=message.person_id,
            channel=Channel.EMAIL,
        )
        return f"{base_url}?token={token}"

    return link


@dataclass
class EmailTransport:
    """The email channel: one SMTP session per message (simple, and nothing to go stale)."""

    settings: SmtpSettings
    unsubscribe_url: Callable[[OutboundMessage], str] | None = None
    clock: Callable[[], datetime] = utcnow
    channel: Channel = field(default=Channel.EMAIL)

    def build(self, message: OutboundMessage) -> EmailMessage:
        """The MIME message for ``message``."""
        sender = message.sender or self.settings.from_addr
        if not sender:
            raise SendError("no From address (template sender or SMTP settings)")
        mail = EmailMessage()
        mail["From"] = (
            formataddr((self.settings.from_name, sender)) if self.settings.from_name else sender
        )
        mail["To"] = message.recipient
        mail["Subject"] = str(message.extra.get("subject") or "")
        mail["Message-ID"] = message_id_for(message.idempotency_key, sender)
        marketing = message.extra.get("purpose", Purpose.MARKETING) == Purpose.MARKETING
        if marketing and self.unsubscribe_url is not None:
            mail["List-Unsubscribe"] = f"<{self.unsubscribe_url(message)}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
        mail.set_content(message.content)
        return mail

    def send(self, message: OutboundMessage) -> Delivery:
        """Hand the mail to the SMTP server; its Message-ID is the provider id."""
        mail = self.build(message)
        try:
            self._submit(mail)
        except smtplib.SMTPResponseException as exc:
            kind = RetryableSendError if 400 <= exc.smtp_code < 500 else SendError
            raise kind(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            kind = RetryableSendError if all(400 <= c < 500 for c in codes) else SendError
            raise kind(f"recipient refused: {exc.recipients}") from None
        except ssl.SSLCertVerificationError as exc:  # misconfiguration: retrying cannot help
            raise SendError(f"SMTP server certificate refused: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:  # connection refused, timeout, dropped
            raise RetryableSendError(f"SMTP unavailable: {exc}") from None
        return Delivery(provider_message_id=str(mail["Message-ID"]), accepted_at=self.clock())

    def _submit(self, mail: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
            if s.starttls:
                smtp.starttls(context=s.tls_context or ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
            smtp.send_message(mail)


def message_id_for(key: str, sender: str) -> str:
    """A stable Message-ID for an idempotency key: the same key, the same id."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "siyu.local"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
