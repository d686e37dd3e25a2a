"""Notices of emergency unblinding: written to the outbox folder, and sent by SMTP when the config says how.

A notice says who was unblinded (participant id, site, allocation number), by whom, when and why, and
the log row that records it. It never names the arm: the people told (the chief investigator, the trial
manager) usually stay blind themselves.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from advance_trial.config.models import Config


@dataclass(frozen=True)
class Notice:
    """What was done with one notice: the outbox file, and whether (and why not) it was sent."""

    path: Path
    sent: bool
    error: str | None = None


def outbox(cfg: Config) -> Path:
    """The outbox folder: ``notify.outbox``, relative to the config file's folder."""
    assert cfg.notify is not None
    folder = Path(cfg.notify.outbox).expanduser()
    if not folder.is_absolute() and cfg.source is not None:
        folder = Path(cfg.source.path).parent / folder
    return Path(os.path.normpath(folder))


def unblinding_message(cfg: Config, *, participant_id: str, site: str, sequence: int, by: str, reason: str,
                       row: int, at: datetime) -> EmailMessage:  # fmt: skip
    """The notice as an e-mail message (no arm in it)."""
    assert cfg.notify is not None
    msg = EmailMessage()
    msg["Subject"] = f"[{cfg.trial.id}] emergency unblinding of {participant_id}"
    msg["From"] = cfg.notify.smtp.sender if cfg.notify.smtp else f"advance-trial@{cfg.trial.id}.invalid"
    msg["To"] = ", ".join(f'"{c.name}" <{c.email}>' for c in cfg.notify.contacts)
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = make_msgid(domain=f"{cfg.trial.id}.invalid")
    msg.set_content(
        f"{cfg.trial.title} ({cfg.trial.id})\n\n"
        f"Participant {participant_id} (site {site}, allocation {sequence}) was unblinded\n"
        f"by {by} at {at.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}.\n\n"
        f"Reason given: {reason}\n\n"
        f"The allocation log records it as row {row}. This notice does not name the arm.\n"
    )
    return msg


def send(cfg: Config, msg: EmailMessage, name: str) -> Notice:
    """Write the message into the outbox (0600, whole or not at all), then send it when SMTP is configured."""
    return deliver(cfg, msg, write(cfg, msg, name))


def write(cfg: Config, msg: EmailMessage, name: str) -> Path:
    """Write the message into the outbox (0600, whole or not at all); its path."""
    from advance_trial.data.tablefile import write_bytes_atomic

    folder = outbox(cfg)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    write_bytes_atomic(bytes(msg), path, private=True)
    return path


def deliver(cfg: Config, msg: EmailMessage, path: Path) -> Notice:
    """Send a message already in the outbox when SMTP is configured; a ``.failed`` file beside it says why not."""
    from advance_trial.data.tablefile import write_bytes_atomic

    assert cfg.notify is not None
    smtp = cfg.notify.smtp
    if smtp is None:
        return Notice(path, False)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
            if smtp.username:
                password = os.environ.get(smtp.password_env or "", "")
                server.login(smtp.username, password)
            server.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
        write_bytes_atomic(error.encode() + b"\n", path.with_suffix(".failed"), private=True)
        return Notice(path, False, error)
    return Notice(path, True)
