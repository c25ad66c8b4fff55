"""E-mail adapter: plain SMTP with optional STARTTLS and login, UTF-8 messages."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from parvis.kernel.notify.adapters import (
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
)
from parvis.settings import Settings

TIMEOUT_SECONDS = 30.0


def build_email(settings: Settings, message: OutgoingMessage) -> tuple[EmailMessage, str]:
    """The e-mail and its Message-ID (our provider reference)."""
    domain = settings.email_from.rpartition("@")[2] or "localhost"
    message_id = make_msgid(idstring=f"notify{message.id}", domain=domain)
    mail = EmailMessage()
    mail["From"] = settings.email_from
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = message_id
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body, charset="utf-8")
    return mail, message_id


class SmtpAdapter:
    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: OutgoingMessage) -> SendResult:
        s = self.settings
        try:
            mail, message_id = build_email(s, message)
        except (ValueError, TypeError) as exc:  # e.g. a line break in an address or subject
            raise PermanentError(f"cannot build the e-mail: {exc}") from exc
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
                smtp.ehlo()
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentError(f"recipient refused: {exc.recipients}") from exc
            raise TransientError(f"recipient deferred: {exc.recipients}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            # A configuration problem, not this message's: retry until someone fixes it.
            raise TransientError(f"SMTP login failed: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise PermanentError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise TransientError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"SMTP server unreachable: {exc!r}") from exc
        return SendResult(provider_ref=message_id)
