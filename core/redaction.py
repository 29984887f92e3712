"""Secrets redacted by value: what the config marks secret never reaches a log, a screen or a row.

Hiding a credential by its *shape* (``access_token=...``, ``/hook/<token>``) misses the ones that look
like anything else (``/notify/hunter2hunter2``, ``apikey=...`` in a mention source). So the config
registers every value that came from ``${ENV}`` or a secret field when it is loaded
(:func:`register_secret`), and everything that leaves the process passes :func:`redact`, which replaces
each registered value - and its percent-, plus-, JSON- and HTML-encoded forms, since a value in a URL
is sent encoded - by ``***``. A URL keeps its query keys (``apikey=***``).

Where it applies (installed by :func:`install`, which the CLI calls once the config is loaded):

- every log record, whichever handler prints it (Scrapy's, ``logging.basicConfig``'s, pytest's): a log
  record factory makes records whose message, traceback and stack are redacted when a handler reads them
  (not when the record is made: most records are never emitted), and a :class:`RedactingFilter` sits on
  the root handlers that exist at install time;
- stdout and stderr (:class:`RedactingStream`): CLI output, tracebacks, Rich tables;
- stored text: the storage layer passes failure records, crawl errors and job errors through
  :func:`redact` / :func:`redact_value` before writing them.

Values shorter than :data:`MIN_LENGTH` are not registered: masking every ``"ab"`` would garble all output
and hide nothing a guess would not find.
"""

from __future__ import annotations

import html
import io
import json
import logging
import os
import re
import select
import stat
import threading
import traceback
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 4

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _forms(value: str) -> set[str]:
    """``value`` as it may appear in text: raw, percent-encoded (path and query), JSON and HTML escaped."""
    forms = {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json.dumps(value)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
    }
    return {f for f in forms if len(f) >= MIN_LENGTH}


def register_secret(value: object) -> None:
    """Treat ``value`` (a string) as a secret from now on, in this process."""
    global _pattern
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        return
    with _lock:
        new = _forms(value) - _values
        if new:
            _values.update(new)
            ordered = sorted(_values, key=len, reverse=True)  # longest first: a secret containing another
            _pattern = re.compile("|".join(map(re.escape, ordered)))


def register_secrets(values: Iterable[object]) -> None:
    for value in values:
        register_secret(value)


def registered() -> frozenset[str]:
    """Every registered form (tests)."""
    with _lock:
        return frozenset(_values)


def clear() -> None:
    """Forget every secret (tests: one process loads many configs)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def redact_value(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string inside it (dicts, lists, tuples)."""
    if _pattern is None:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


# ---------------------------------------------------------------- logging


def _redact_record(record: logging.LogRecord) -> None:
    """Rewrite ``record`` in place (a handler's :class:`RedactingFilter`; a record of another class than
    :class:`LogRecord`, which cannot be made lazy)."""
    if _pattern is None or getattr(record, "_jingshao_redacted", False) or isinstance(record, _LazyRedactedRecord):
        return
    record._jingshao_redacted = True
    try:
        message = record.getMessage()
    except Exception:
        message = None
    if message is not None:
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """Redacts a record in place (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


class _LazyRedactedRecord(logging.LogRecord):
    """A record redacted when a handler reads it, not when it is made (issue 15).

    Most records are never emitted (Scrapy makes a DEBUG record per page that only a ``-v`` run prints);
    formatting and redacting each when it is made cost every crawl page for nothing. Whatever a handler
    reads passes :func:`redact`: the message (``getMessage``, which every formatter, ``QueueHandler`` and
    ``SocketHandler`` use), the traceback text (redacted when a formatter stores it, so a pickled record's
    ``__dict__`` holds the redacted text too) and the stack (redacted when read; ``stack_info`` is rare,
    so a record that has one is redacted when made)."""

    def getMessage(self) -> str:
        return redact(super().getMessage())

    @property
    def exc_text(self) -> str | None:
        return self.__dict__.get("exc_text")

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        self.__dict__["exc_text"] = redact(value) if value else value


_factory_installed = False


def _install_record_factory() -> None:
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if type(record) is logging.LogRecord:
            record.__class__ = _LazyRedactedRecord  # redacted when a handler reads it
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
            if record.__dict__.get("exc_text"):
                record.exc_text = record.__dict__["exc_text"]  # through the setter
        else:  # another factory's record class: redacted now, as it is
            _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def install_log_filter() -> None:
    """Redact every log record: a record factory (handlers added later, e.g. Scrapy's, are covered too)
    and a :class:`RedactingFilter` on each current root handler. Idempotent."""
    _install_record_factory()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


# ---------------------------------------------------------------- stdout / stderr


class RedactingStream(io.TextIOBase):
    """A text stream that redacts whole lines before writing them to ``fd``.

    With ``nonblocking=True`` (a crawl child) the file descriptor is switched to ``O_NONBLOCK`` and a line
    that cannot be written within ``wait`` seconds (nobody reads the pipe: the parent died or a reader
    like ``head -1`` stopped) is dropped instead of blocking the process; once the reader is gone for
    good (``EPIPE``) nothing more is written. The process keeps working, and still stops on SIGTERM.
    """

    def __init__(self, original: TextIO, *, nonblocking: bool = False, wait: float = 0.5) -> None:
        self._original = original
        self._fd = original.fileno()
        self._encoding = getattr(original, "encoding", None) or "utf-8"
        self._buffer = ""
        self._wait = wait
        self._lock = threading.RLock()
        self.broken = False  # the reader went away (EPIPE)
        self.dropped = 0  # lines dropped because nobody read them in time
        self._stalled = False  # the last line was dropped
        # Only a pipe or socket: O_NONBLOCK on a terminal would be shared with the shell after we exit.
        self._nonblocking = (
            nonblocking
            and stat.S_ISFIFO(os.fstat(self._fd).st_mode)
            or (nonblocking and stat.S_ISSOCK(os.fstat(self._fd).st_mode))
        )
        if self._nonblocking:
            os.set_blocking(self._fd, False)

    # io.TextIOBase API
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return "replace"

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return self._original.isatty()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            if "\n" in self._buffer:
                head, _, self._buffer = self._buffer.rpartition("\n")
                self._emit(head + "\n")
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._buffer:
                pending, self._buffer = self._buffer, ""
                self._emit(pending)

    def _emit(self, text: str) -> None:
        if self.broken:
            return
        data = redact(text).encode(self._encoding, "replace")
        try:
            self._original.flush()  # whatever was written to the original before we wrapped it
        except (OSError, ValueError):
            pass
        while data:
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                # Wait a little for a slow reader, but not again while lines are being dropped: a reader
                # that is gone must not slow the process to one line per `wait`.
                if not self._nonblocking or self._stalled or not self._writable_within(self._wait):
                    self.dropped += 1
                    self._stalled = True
                    return
                continue
            except BrokenPipeError:
                self.broken = True
                return
            except InterruptedError:
                continue
            except OSError:
                self.broken = True
                return
            data = data[written:]
            self._stalled = False

    def _writable_within(self, seconds: float) -> bool:
        try:
            _, ready, _ = select.select([], [self._fd], [], seconds)
        except (OSError, ValueError):
            return False
        return bool(ready)


def wrap_std_streams(*, nonblocking: bool = False) -> None:
    """Replace ``sys.stdout`` and ``sys.stderr`` with :class:`RedactingStream` s (idempotent)."""
    import sys

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, RedactingStream) or stream is None:
            continue
        try:
            stream.fileno()
        except (OSError, ValueError, AttributeError):  # pytest's capture, an io.StringIO: leave as is
            continue
        setattr(sys, name, RedactingStream(stream, nonblocking=nonblocking))


def install(*, nonblocking_output: bool = False) -> None:
    """Logs and standard streams redacted (the CLI calls this once the config is loaded)."""
    install_log_filter()
    wrap_std_streams(nonblocking=nonblocking_output)
