"""The send ledger: which report went to which recipients, so a retry never sends it twice.

One record per (report key, recipients hash). The mailer holds the ledger's lock while it checks
the record, sends and writes the outcome, so two senders (the scheduler's tick and a user's
`jingshao report --send`) cannot both decide the report is still unsent.

`FileSendLedger` keeps the records in a JSON file next to the saved reports (written atomically,
locked with `flock`). A database-backed ledger (a `report_sends` table) only has to implement the
same three methods.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SendRecord:
    report_key: str  # "2026-11-24" or "2026-11-20_2026-11-24"
    recipients_hash: str
    message_id: str
    status: str  # sending | sent | failed
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    updated_at: datetime | None = None

    def but(self, **changes: object) -> SendRecord:
        return replace(self, **changes)  # type: ignore[arg-type]


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

    `lock()` is one transaction holding the database's write lock (SQLite: BEGIN IMMEDIATE;
    PostgreSQL: a transaction-scoped advisory lock), so check, send and record cannot interleave
    with another sender. It is held for the length of one send, once a day.
    """

    ADVISORY_KEY = 0x6A696E67  # "jing"

    def __init__(self, db) -> None:  # noqa: ANN001 - jingshao.storage.db.Database
        self.db = db
        self._session = None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        from sqlalchemy import text

        with self.db.session() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.ADVISORY_KEY})
            self._session = s
            try:
                yield
            finally:
                self._session = None

    def _row(self, report_key: str, recipients_hash: str):  # noqa: ANN202
        from sqlalchemy import select

        from jingshao.storage.models import ReportSend

        assert self._session is not None, "use the ledger inside lock()"
        return self._session.scalars(select(ReportSend).where(
            ReportSend.report_date == report_key, ReportSend.recipients_hash == recipients_hash)).first()

    def get(self, report_key: str, recipients_hash: str) -> SendRecord | None:
        row = self._row(report_key, recipients_hash)
        if row is None:
            return None
        return SendRecord(row.report_date, row.recipients_hash, row.message_id, row.status, row.attempts,
                          row.last_error, row.sent_at, None)

    def put(self, record: SendRecord) -> None:
        from jingshao.storage.models import ReportSend

        row = self._row(record.report_key, record.recipients_hash)
        if row is None:
            row = ReportSend(report_date=record.report_key, recipients_hash=record.recipients_hash)
            self._session.add(row)
        row.message_id = record.message_id
        row.status = record.status
        row.attempts = record.attempts
        row.last_error = record.last_error
        row.sent_at = record.sent_at
        self._session.flush()
