"""Engine, sessions and migrations.

SQLite is the embedded default: WAL journal (readers never block the crawler), a busy timeout,
foreign keys on, and `BEGIN IMMEDIATE` so a read-then-write (the change-only observation check)
holds the write lock from its first statement; two processes can then never both decide that
the same change is new. PostgreSQL gets row locks (`SELECT ... FOR UPDATE`) for the same purpose.

Read-only work (the dashboard's GET requests) takes `Database.read_session()`: on SQLite its own
engine whose transactions open with a plain deferred `BEGIN`, so a reader never waits for the write
lock a crawler holds (WAL gives it a consistent snapshot); on PostgreSQL it is the same engine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be opened or migrated; the message says which URL (password hidden)."""


def safe_url(url: str) -> str:
    """The URL with any password masked, for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def make_engine(url: str, *, echo: bool = False, deferred: bool = False) -> Engine:
    """An engine for `url`; on SQLite, `deferred=True` opens transactions with a plain `BEGIN`
    (for readers: no write lock is taken) instead of `BEGIN IMMEDIATE`."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 60}, json_deserializer=json_loads)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's is deferred)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            # Read the first 256 MiB of the file through a memory map: pages come from the OS's page
            # cache, shared by every connection and process, instead of being copied into each
            # connection's 2 MiB cache (a per-connection cache_size of 64 MiB measured the same but
            # would hold up to a pool's worth of copies). /reviews?competitor= 22.8 -> 18.7 ms p50 and
            # its bare SELECT 4.2 -> 2.9 ms on bench/web.py's 82 MB database.
            cur.execute("PRAGMA mmap_size=268435456")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


_SCAN_JSON = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__, not in the stubs


def json_loads(text: Any) -> Any:
    """``json.loads`` for the JSON columns SQLite hands back as text: a document that the scanner
    reads to its very end (what the app writes: no surrounding blanks) is taken from the scanner
    directly, ~0.7 us instead of ~1.5 us a review's tags (评价洞察 decodes a competitor's month of
    reviews, ~800, on each view); anything else (blanks around it, invalid JSON) goes through
    ``json.loads``, which gives the same value or the same error."""
    if type(text) is str:
        try:
            value, end = _SCAN_JSON(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)


def rowcount(result: Result[Any]) -> int:
    """Rows an INSERT / UPDATE / DELETE touched (its result is a CursorResult; Session.execute types a Result)."""
    return cast("CursorResult[Any]", result).rowcount or 0


def inserted_id(result: Result[Any]) -> int:
    """The primary key a single-row INSERT wrote."""
    key = cast("CursorResult[Any]", result).inserted_primary_key
    if key is None:
        raise ValueError("the statement inserted no row")
    return key[0]


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic (idempotent)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except Exception as exc:
        raise DatabaseError(
            f"cannot migrate database {safe_url(str(engine.url.render_as_string(hide_password=False)))}: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _is_sqlite_file(engine: Engine) -> bool:
    url = engine.url
    return url.get_backend_name() == "sqlite" and bool(url.database) and url.database != ":memory:"


class Database:
    """One engine plus a session factory; `open_database(url)` migrates on first use.

    `read_engine` / `read_sessionmaker` / `read_session()` are for work that only reads: on a
    SQLite file a second engine (made on first use) whose transactions are deferred, so reads do
    not queue behind a writer's `BEGIN IMMEDIATE`; otherwise (PostgreSQL, in-memory SQLite) the
    same engine.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(engine, expire_on_commit=False)
        self._read_engine: Engine | None = None
        self._read_sessionmaker: sessionmaker[Session] | None = None
        self._read_lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self.sessionmaker.begin() as s:
            yield s

    @property
    def read_engine(self) -> Engine:
        if self._read_engine is None:
            with self._read_lock:
                if self._read_engine is None:
                    if _is_sqlite_file(self.engine):
                        url = self.engine.url.render_as_string(hide_password=False)
                        self._read_engine = make_engine(url, echo=bool(self.engine.echo), deferred=True)
                    else:
                        self._read_engine = self.engine
        return self._read_engine

    @property
    def read_sessionmaker(self) -> sessionmaker[Session]:
        if self._read_sessionmaker is None:
            maker = self.sessionmaker if self.read_engine is self.engine else None
            self._read_sessionmaker = maker or sessionmaker(self.read_engine, expire_on_commit=False)
        return self._read_sessionmaker

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reading, in one transaction (deferred on SQLite: it takes no write lock)."""
        with self.read_sessionmaker.begin() as s:
            yield s

    def dispose(self) -> None:
        if self._read_engine is not None and self._read_engine is not self.engine:
            self._read_engine.dispose()
        self.engine.dispose()


# URLs this process has already brought to the head revision: a long-running scheduler opens the
# database for every job (every 15 s for dispatch) and need not re-run Alembic each time.
_migrated: set[str] = set()
_migrated_lock = threading.Lock()


def open_database(url: str, *, upgrade: bool = True) -> Database:
    try:
        engine = make_engine(url)
    except Exception as exc:
        raise DatabaseError(f"cannot open database {safe_url(url)}: {exc}") from None
    if upgrade:
        with _migrated_lock:
            if url not in _migrated:
                migrate(engine)
                _migrated.add(url)
    return Database(engine)
