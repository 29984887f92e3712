"""The send ledger: which report went to which recipients, so a retry never sends it twice.

One record per (report key, recipients hash). The mailer holds the ledger's lock while it checks
the record, sends and writes the outcome, so two senders (the scheduler's tick and a user's
`jingshao report --send`) cannot both decide the report is still unsent. The lock is a claim, not
a database transaction: each `put()` is durable when it returns, so a "sending" record survives a
crash in the middle of the SMTP exchange.

`FileSendLedger` keeps the records in a JSON file next to the saved reports (written atomically,
locked with `flock`). A database-backed ledger (a `report_sends` table) only has to implement the
same three methods.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

PERMANENT = "permanent: "  # last_error prefix of a failure retrying cannot fix (bad login, 5xx, certificate)


@dataclass(frozen=True)
class SendRecord:
    report_key: str  # "2026-11-24" or "2026-11-20_2026-11-24"
    recipients_hash: str
    message_id: str
    status: str  # sending | sent | failed (last_error starting with PERMANENT: retrying cannot help)
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    updated_at: datetime | None = None

    def but(self, **changes: object) -> SendRecord:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def permanent(self) -> bool:
        """The last attempt failed in a way another attempt will not fix; only a person can."""
        return self.status == "failed" and (self.last_error or "").startswith(PERMANENT)


class SendLedger(Protocol):
    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive while held: check, send and record happen under it."""
        ...

    def get(self, report_key: str, recipients_hash: str) -> SendRecord | None: ...

    def put(self, record: SendRecord) -> None: ...


def _to_json(r: SendRecord) -> dict[str, object]:
    d = asdict(r)
    for k in ("sent_at", "updated_at"):
        d[k] = d[k].isoformat() if d[k] else None
    return d


def _from_json(d: dict[str, object]) -> SendRecord:
    d = dict(d)
    for k in ("sent_at", "updated_at"):
        d[k] = datetime.fromisoformat(str(d[k])) if d.get(k) else None
    return SendRecord(**d)  # type: ignore[arg-type]


class FileSendLedger:
    """Records in one JSON file; `lock()` is an `flock` on a sibling `.lock` file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def beside(cls, report_path: str | Path) -> FileSendLedger:
        return cls(Path(report_path).parent / "report-sends.json")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(self.path.suffix + ".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _load(self) -> dict[str, dict[str, object]]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    @staticmethod
    def _key(report_key: str, recipients_hash: str) -> str:
        return f"{report_key}/{recipients_hash}"

    def get(self, report_key: str, recipients_hash: str) -> SendRecord | None:
        raw = self._load().get(self._key(report_key, recipients_hash))
        return _from_json(raw) if raw else None

    def put(self, record: SendRecord) -> None:
        records = self._load()
        records[self._key(record.report_key, record.recipients_hash)] = _to_json(record)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".report-sends.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(records, fh, ensure_ascii=False, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def records(self) -> list[SendRecord]:
        return [_from_json(v) for _, v in sorted(self._load().items())]


class DbSendLedger:
    """Records in the product database (`report_sends`), so several machines share one ledger.

    No database transaction is open while a report is being sent (that can take minutes of SMTP
    timeouts and retries): `get()` and `put()` are each one short, committed transaction, so the
    "sending" record is durable before the message goes out (a crash after the server accepted it
    leads to a resend with the same Message-ID, never to silence), and crawls keep writing meanwhile.

    `lock()` is a claim outside the data:
      * PostgreSQL: a session-level advisory lock (`pg_advisory_lock`) on a connection of its own,
        committed at once, so it holds no transaction and blocks no writer; released by
        `pg_advisory_unlock` (or by the server when that connection dies);
      * SQLite (one machine by nature): `flock` on `<database file>.report-lock` beside the database
        file, released by the kernel if the process dies;
      * anything else, or an in-memory SQLite: a lock within this process only.
    """

    ADVISORY_KEY = 0x6A696E67  # "jing"
    _local_lock = threading.Lock()

    def __init__(self, db) -> None:
        self.db = db

    @property
    def lock_path(self) -> Path | None:
        """The SQLite claim file (`<db>.report-lock`); None for other databases and in-memory SQLite."""
        url = self.db.engine.url
        if (
            url.get_backend_name() != "sqlite"
            or not url.database
            or url.database == ":memory:"
            or url.database.startswith("file:")
        ):
            return None
        return Path(url.database + ".report-lock")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        if self.db.engine.dialect.name == "postgresql":
            with self._advisory_lock():
                yield
            return
        path = self.lock_path
        if path is None:
            with self._local_lock:
                yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _advisory_lock(self) -> Iterator[None]:
        from sqlalchemy import text

        conn = self.db.engine.connect()
        try:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self.ADVISORY_KEY})
            conn.commit()  # the lock belongs to the session: no transaction stays open
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.ADVISORY_KEY})
                    conn.commit()
                except Exception:  # the server ends the lock with the session: drop the connection
                    log.warning("cannot release the report send lock; closing its connection", exc_info=True)
                    conn.invalidate()
        finally:
            conn.close()

    @staticmethod
    def _row(session, report_key: str, recipients_hash: str):
        from sqlalchemy import select

        from jingshao.storage.models import ReportSend

        return session.scalars(
            select(ReportSend).where(
                ReportSend.report_date == report_key, ReportSend.recipients_hash == recipients_hash
            )
        ).first()

    def get(self, report_key: str, recipients_hash: str) -> SendRecord | None:
        with self.db.session() as s:
            row = self._row(s, report_key, recipients_hash)
            if row is None:
                return None
            return SendRecord(
                row.report_date,
                row.recipients_hash,
                row.message_id,
                row.status,
                row.attempts,
                row.last_error,
                row.sent_at,
                None,
            )

    def put(self, record: SendRecord) -> None:
        """Insert or update the record and commit before returning."""
        from jingshao.storage.models import ReportSend

        with self.db.session() as s:
            row = self._row(s, record.report_key, record.recipients_hash)
            if row is None:
                row = ReportSend(report_date=record.report_key, recipients_hash=record.recipients_hash)
                s.add(row)
            row.message_id = record.message_id
            row.status = record.status
            row.attempts = record.attempts
            row.last_error = record.last_error
            row.sent_at = record.sent_at
