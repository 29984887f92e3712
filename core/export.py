"""Tabular export shared by the CLI (``--json`` / ``--csv``) and the web API (``.csv`` endpoints).

CSV cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR at the start:
OWASP's "CSV injection") get a leading apostrophe; crawled text is never trusted. Numbers stay numbers.
JSON values: Decimal -> string (no float rounding of prices), datetime -> ISO 8601 with offset.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def plain(value: Any) -> Any:
    """A JSON-ready copy: dataclasses and mappings to dicts, Decimal to str, datetimes to ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def json_line(value: Any) -> str:
    return json.dumps(plain(value), ensure_ascii=False, sort_keys=False)


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return format(value, "f") if isinstance(value, Decimal) else value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV with a header row; UTF-8 text (callers add a BOM for Excel where they write bytes)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


# The alert list's columns, the same in `jingshao alerts list --csv/--json` and the API's CSV.
ALERT_COLUMNS = (
    "id",
    "state",
    "level",
    "max_level",
    "since",
    "subject",
    "family",
    "rule",
    "summary",
    "acked_by",
    "last_notified_at",
)
