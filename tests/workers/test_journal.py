"""The sent journal (decision 33): copies the SMTP server accepted are noted in a file
before the database records them, and whoever takes the message over next records them
and does not email those recipients again."""

import errno
import fcntl
import os
from pathlib import Path

from ledger.events import OutboxKind
from models import EmailDelivery, OutboxMessage
from tests.notifications import factories as f
from workers import journal
from workers.mail import deliver


async def _message() -> OutboxMessage:
    team = await f.team()
    await f.buy(team)
    return await f.latest(OutboxKind.PURCHASE_PAID)


def _left_by_a_killed_worker(directory, message: OutboxMessage, *recipients: str) -> None:
    """What a worker killed after the server accepted `recipients`, before the database
    heard of them, leaves: its journal, no longer locked by anyone."""
    notes = journal.Journal.start(directory, message)
    assert notes is not None
    for recipient in recipients:
        notes.sent(recipient)
    notes.close(recorded=False)


async def _recorded(message: OutboxMessage) -> list[str]:
    found = await EmailDelivery.filter(message_id=message.id).values_list("recipient", flat=True)
    return sorted(str(r) for r in found)


async def test_copies_a_killed_worker_noted_are_recorded_and_not_sent_again(clock, smtp, tmp_path):
    message = await _message()
    settings = smtp.settings(mail_journal_dir=str(tmp_path))
    _left_by_a_killed_worker(tmp_path, message, f.OWNERS[0], f.OWNERS[2])

    report = await deliver(message.id, settings=settings)

    assert report.sent == [f.OWNERS[1]]
    assert sorted(report.skipped) == [f.OWNERS[0], f.OWNERS[2]]
    assert smtp.inbox.recipients() == [f.OWNERS[1]]
    assert await _recorded(message) == f.OWNERS
    assert list(tmp_path.iterdir()) == []  # imported, then removed


async def test_a_delivery_leaves_no_journal_behind(clock, smtp, tmp_path):
    message = await _message()
    report = await deliver(message.id, settings=smtp.settings(mail_journal_dir=str(tmp_path)))
    assert sorted(report.sent) == f.OWNERS
    assert list(tmp_path.iterdir()) == []


async def test_a_journal_a_live_delivery_holds_is_left_to_it(clock, smtp, tmp_path):
    message = await _message()
    notes = journal.Journal.start(tmp_path, message)
    assert notes is not None
    notes.sent(f.OWNERS[0])
    try:
        imported = await journal.recover(tmp_path, message, _never_called)
        assert imported == 0
        assert [p.name for p in tmp_path.iterdir()] == [notes.path.name]
    finally:
        notes.close(recorded=True)
    assert list(tmp_path.iterdir()) == []


async def _never_called(message_id: int, recipients: list[str]) -> None:
    raise AssertionError("a live delivery's journal was imported")


async def test_a_journal_of_another_message_with_the_same_id_is_dropped_unread(
    clock, smtp, tmp_path
):
    """A database rebuilt with the same ids (a test run, a restore): the file names the
    message's creation time, and this one's differs."""
    message = await _message()
    (tmp_path / f"{message.id}.0123abcd{journal.SUFFIX}").write_text(
        f'{{"message": {message.id}, "created": "2001-01-01T00:00:00+00:00"}}\n"{f.OWNERS[0]}"\n'
    )
    report = await deliver(message.id, settings=smtp.settings(mail_journal_dir=str(tmp_path)))
    assert sorted(report.sent) == f.OWNERS  # nobody skipped on its word
    assert list(tmp_path.iterdir()) == []


async def test_a_journal_stays_when_the_database_did_not_record_the_copies(clock, tmp_path):
    message = await _message()
    notes = journal.Journal.start(tmp_path, message)
    assert notes is not None
    notes.sent(f.OWNERS[0])
    notes.close(recorded=False)
    (path,) = tmp_path.iterdir()
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # no longer held by anyone
    finally:
        os.close(fd)
    assert path.read_text().splitlines()[1] == f'"{f.OWNERS[0]}"'


def test_the_default_folder_is_named_after_the_database(tmp_path):
    from settings import Settings

    one = journal.directory_of(Settings(database_url="postgres://db-one/x", mail_journal_dir=""))
    two = journal.directory_of(Settings(database_url="postgres://db-two/x", mail_journal_dir=""))
    assert one != two and one.parent == two.parent
    chosen = Settings(database_url="sqlite://x", mail_journal_dir=str(tmp_path))
    assert journal.directory_of(chosen) == tmp_path


# Nothing about the journal may stop mail (review of decision 33).


async def test_a_full_disk_mid_delivery_gives_up_the_journal_not_the_mail(
    clock, smtp, tmp_path, monkeypatch
):
    message = await _message()
    written = os.write

    def full(fd: int, data: bytes) -> int:
        if data.startswith(b'"'):  # a recipient's line; the header went through
            raise OSError(errno.ENOSPC, "No space left on device")
        return written(fd, data)

    monkeypatch.setattr(os, "write", full)
    report = await deliver(message.id, settings=smtp.settings(mail_journal_dir=str(tmp_path)))
    assert sorted(report.sent) == f.OWNERS
    assert smtp.inbox.recipients() == f.OWNERS  # each once
    assert await _recorded(message) == f.OWNERS


async def test_a_journal_that_cannot_be_made_leaves_nothing_open(
    clock, smtp, tmp_path, monkeypatch
):
    message = await _message()
    monkeypatch.setattr(os, "write", _no_space)
    report = await deliver(message.id, settings=smtp.settings(mail_journal_dir=str(tmp_path)))
    assert sorted(report.sent) == f.OWNERS
    assert list(tmp_path.iterdir()) == []
    assert not _open_below(tmp_path)


def _open_below(directory: Path) -> list[str]:
    """The files below `directory` this process holds open."""
    names = [os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")]
    return [name for name in names if name.startswith(str(directory))]


def _no_space(fd: int, data: bytes) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


async def test_a_journal_that_cannot_be_removed_does_not_stop_its_message(
    clock, smtp, tmp_path, monkeypatch
):
    message = await _message()
    _left_by_a_killed_worker(tmp_path, message, f.OWNERS[0])
    unlink = Path.unlink

    def refused(self: Path, missing_ok: bool = False) -> None:
        if self.suffix == journal.SUFFIX:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", refused)
    report = await deliver(message.id, settings=smtp.settings(mail_journal_dir=str(tmp_path)))
    assert sorted(report.sent) == f.OWNERS[1:]
    assert smtp.inbox.recipients() == f.OWNERS[1:]
    assert (await OutboxMessage.get(id=message.id)).delivered_at is not None


async def test_a_journal_that_cannot_be_read_is_left_and_its_message_delivered(
    clock, smtp, tmp_path
):
    message = await _message()
    unreadable = tmp_path / f"{message.id}.feedbeef{journal.SUFFIX}"
    unreadable.write_bytes(b"\xff\xfe not text")
    report = await deliver(message.id, settings=smtp.settings(mail_journal_dir=str(tmp_path)))
    assert sorted(report.sent) == f.OWNERS
    assert [p.name for p in tmp_path.iterdir()] == [unreadable.name]
