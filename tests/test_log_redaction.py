"""Log records are redacted when a handler reads them, not when they are made (issue 15)."""

from __future__ import annotations

import io
import logging
import logging.handlers
import pickle

import pytest

from jingshao.core import redaction

SECRET = "hunter2-token-9f3a"


@pytest.fixture
def log():
    redaction.register_secret(SECRET)
    redaction.install_log_filter()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.Logger("jingshao.tests.lazy_redaction", logging.DEBUG)  # outside the tree: no pytest handlers
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


class Counted:
    def __init__(self) -> None:
        self.calls = 0

    def __str__(self) -> str:
        self.calls += 1
        return f"token={SECRET}"


def test_emitted_message_and_traceback_are_masked(log):
    logger, stream = log
    logger.warning("calling %s", f"https://shop.example/notify/{SECRET}?x=1")
    try:
        raise RuntimeError(f"bad key {SECRET}")
    except RuntimeError:
        logger.exception("failed with %s", SECRET)
    out = stream.getvalue()
    assert SECRET not in out
    assert out.count(redaction.MASK) >= 3  # message, exception message, the traceback's line
    assert "https://shop.example/notify/***?x=1" in out


def test_a_record_no_handler_takes_is_never_formatted(log):
    logger, stream = log
    value = Counted()
    logger.debug("page %s", value)  # made (the logger is at DEBUG), dropped by the WARNING handler
    assert value.calls == 0
    logger.warning("page %s", value)
    assert value.calls == 1
    assert stream.getvalue() == "WARNING page token=***\n"


def test_records_leaving_the_process_whole_are_masked(log):
    logger, _ = log
    queue: list[logging.LogRecord] = []

    class ListQueue:
        def put_nowait(self, record: logging.LogRecord) -> None:
            queue.append(record)

    records: list[logging.LogRecord] = []
    capture = logging.Handler()
    capture.emit = records.append  # type: ignore[method-assign]
    socket_like = logging.handlers.SocketHandler("127.0.0.1", 9)
    for handler in (logging.handlers.QueueHandler(ListQueue()), capture):  # type: ignore[arg-type]
        logger.addHandler(handler)
    try:
        try:
            raise ValueError(SECRET)
        except ValueError:
            logger.error("error %s", SECRET, exc_info=True, stack_info=True)
    finally:
        for handler in logger.handlers[1:]:
            logger.removeHandler(handler)
    assert SECRET not in repr(queue[0].__dict__)
    pickled = pickle.loads(socket_like.makePickle(records[0])[4:])
    assert SECRET not in repr(pickled)
    assert records[0].getMessage() == "error ***"
    assert SECRET not in (records[0].stack_info or "")
