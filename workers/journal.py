"""A delivery's own record of the copies the SMTP server accepted (decision 33).

The database records a sent copy one round trip or more after the server accepted it
(`workers.mail._Recorder` groups them); a worker killed in between left those copies
unrecorded, and the next worker emailed them again. So each delivery also appends every
accepted recipient to a file of its own, with one `write(2)` the moment the server's
answer is read: the kernel keeps what was written when the process is killed (not when
the machine loses power). The file is locked (`flock`) for as long as the delivery runs.

Whoever takes a message's lease next first imports the files of that message no live
process holds (`recover`): their recipients are recorded as sent, then the files go.
Only the copies whose acceptance the killed worker had not yet read can still go out
twice, with the same Message-ID: SMTP has no way to ask a server what it accepted, and
taking a copy as sent any earlier (once its final dot is written) loses it wherever the
server drops a message whose client is gone before the answer (Exim does).

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
    """The accepted recipients of one delivery of one message, as they are accepted.

    Nothing here may stop mail: a journal that cannot be made or written is given up
    with a warning, and the delivery goes on with the database's records alone."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def start(cls, directory: Path, message: OutboxMessage) -> Journal | None:
        """A new file for this delivery, locked and headed before it takes its name (so
        no one recovering the message sees it unlocked); None if it cannot be made."""
        name = f"{message.id}.{uuid.uuid4().hex}"
        partial, path = directory / f".{name}.new", directory / f"{name}{SUFFIX}"
        fd = None
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _write(fd, _header(message) + "\n")
            os.rename(partial, path)
        except OSError as exc:
            log.warning("no sent journal in %s (%s): a kill could email twice", directory, exc)
            if fd is not None:
                os.close(fd)
                with contextlib.suppress(OSError):
                    partial.unlink()
            return None
        return cls(path, fd)

    def sent(self, recipient: str) -> None:
        if self._fd is None:
            return
        try:
            _write(self._fd, json.dumps(recipient) + "\n")
        except OSError as exc:  # the copy is accepted: this must not fail the delivery
            log.warning("the sent journal %s is given up (%s)", self.path.name, exc)
            self.close(recorded=False)

    def close(self, *, recorded: bool) -> None:
        """Done: removed when the database has every copy, else left (unlocked) for the
        next holder of the message's lease to import."""
        if self._fd is None:
            return
        if recorded:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot remove the sent journal %s: %s", self.path.name, exc)
        os.close(self._fd)
        self._fd = None


def _write(fd: int, line: str) -> None:
    data = line.encode()
    if os.write(fd, data) != len(data):
        raise OSError(f"wrote part of {len(data)} bytes")


RecordSent = Callable[[int, list[str]], Awaitable[None]]


async def recover(directory: Path, message: OutboxMessage, record: RecordSent) -> int:
    """Import the journals of `message` that no live delivery holds (the caller holds
    the message's lease): `record` their recipients as sent, then remove them. Answers
    how many recipients were imported. A file that cannot be read or removed is left,
    with a warning; only `record` (the database) failing fails the delivery. (The files
    are few and local: read in place.)"""
    imported = 0
    stopped = _stopped(directory, message)
    try:
        for path, _ in stopped:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, ValueError) as exc:
                log.warning("cannot read the sent journal %s: %s", path.name, exc)
                continue
            recipients = _recipients(text, message)
            if recipients:
                await record(message.id, recipients)
                imported += len(recipients)
                log.warning(
                    "outbox message %s: %d copies a stopped worker sent are recorded from %s",
                    message.id,
                    len(recipients),
                    path.name,
                )
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot remove the sent journal %s: %s", path.name, exc)
    finally:
        for _, fd in stopped:
            os.close(fd)
    return imported


def _stopped(directory: Path, message: OutboxMessage) -> list[tuple[Path, int]]:
    """The journals of `message` whose delivery has ended, each locked by this process
    (the open descriptor that holds the lock comes with it)."""
    found = []
    try:
        paths = sorted(directory.glob(f"{message.id}.*{SUFFIX}"))
    except OSError as exc:
        log.warning("cannot list the sent journals in %s: %s", directory, exc)
        return []
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot open the sent journal %s: %s", path.name, exc)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live delivery's (it lost its lease, or is ending)
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
