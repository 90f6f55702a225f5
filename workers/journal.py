"""A delivery's own record of the copies the SMTP server accepted (decision 33).

The database records a sent copy one round trip or more after the server accepted it
(`workers.mail._Recorder` groups them); a worker killed in between left those copies
unrecorded, and the next worker emailed them again. So each delivery also appends every
accepted recipient to a file of its own, with one `write(2)` the moment the server
answers: the kernel keeps what was written when the process is killed (not when the
machine loses power). The file is locked (`flock`) for as long as the delivery runs.

Whoever takes a message's lease next first imports the files of that message no live
process holds (`recover`): their recipients are recorded as sent, then the files go.
Only the copies whose acceptance the killed worker had not yet read can still go out
twice, with the same Message-ID: SMTP has no way to ask a server what it accepted.

The files live in `MAIL_JOURNAL_DIR` (by default a folder in the system's temporary
directory named after the database, so that two deployments on one machine never read
each other's); each names its outbox message and that message's creation time, and a
file whose message no longer matches is dropped unread.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from models import OutboxMessage
from settings import Settings

log = logging.getLogger("credits.mail")
SUFFIX = ".journal"


def directory_of(settings: Settings) -> Path:
    if settings.mail_journal_dir:
        return Path(settings.mail_journal_dir)
    database = hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"training-credits-mail-{database}"


def _header(message: OutboxMessage) -> str:
    return json.dumps({"message": message.id, "created": message.created_at.isoformat()})


class Journal:
    """The accepted recipients of one delivery of one message, as they are accepted."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def start(cls, directory: Path, message: OutboxMessage) -> Journal | None:
        """A new locked file for this delivery; None (and a warning) if one cannot be
        made: the delivery goes on with the database's records alone."""
        path = directory / f"{message.id}.{uuid.uuid4().hex}{SUFFIX}"
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except OSError as exc:
            log.warning("no sent journal in %s (%s): a kill could email twice", directory, exc)
            return None
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (_header(message) + "\n").encode())
        return cls(path, fd)

    def sent(self, recipient: str) -> None:
        os.write(self._fd, (json.dumps(recipient) + "\n").encode())

    def close(self, *, recorded: bool) -> None:
        """Done: removed when the database has every copy, else left (unlocked) for the
        next holder of the message's lease to import."""
        if recorded:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self._fd)


RecordSent = Callable[[int, list[str]], Awaitable[None]]


async def recover(directory: Path, message: OutboxMessage, record: RecordSent) -> int:
    """Import the journals of `message` that no live delivery holds (the caller holds
    the message's lease): `record` their recipients as sent, then remove them. Answers
    how many recipients were imported. (The files are few and local: read in place.)"""
    imported = 0
    stopped = _stopped(directory, message)
    try:
        for path, _ in stopped:
            recipients = _recipients(path.read_text(encoding="utf-8"), message)
            if recipients:
                await record(message.id, recipients)
                imported += len(recipients)
                log.warning(
                    "outbox message %s: %d copies a stopped worker sent are recorded from %s",
                    message.id,
                    len(recipients),
                    path.name,
                )
            path.unlink()
    finally:
        for _, fd in stopped:
            os.close(fd)
    return imported


def _stopped(directory: Path, message: OutboxMessage) -> list[tuple[Path, int]]:
    """The journals of `message` whose delivery has ended, each locked by this process
    (the open descriptor that holds the lock comes with it)."""
    found = []
    for path in sorted(directory.glob(f"{message.id}.*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live delivery's (it lost its lease, or is ending)
            os.close(fd)
            continue
        found.append((path, fd))
    return found


def _recipients(text: str, message: OutboxMessage) -> list[str]:
    """The recipients a journal lists, if it is this message's (a line that is not a
    JSON string names no one)."""
    header, _, rest = text.partition("\n")
    if header != _header(message):
        return []
    found = []
    for line in rest.split("\n"):
        with contextlib.suppress(ValueError):
            recipient = json.loads(line)
            if isinstance(recipient, str):
                found.append(recipient)
    return found
