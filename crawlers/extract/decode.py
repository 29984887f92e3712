"""Bytes -> text for HTML pages.

Order: the HTTP ``encoding`` hint, a BOM, ``<meta charset>`` / ``http-equiv`` (all via
:func:`w3lib.encoding.html_to_unicode`, which already maps gb2312/gbk to gb18030, a superset that
decodes every GBK page right), then sniffing: strict UTF-8, strict GB18030, charset-normalizer.
Undecodable bytes become U+FFFD; this never raises.
"""

from __future__ import annotations

import codecs

from w3lib.encoding import html_to_unicode, resolve_encoding

_GB_ALIASES = {"gb2312", "gbk", "gb_2312_80", "x-gbk", "cp936", "ms936", "euc-cn", "gb18030"}


def _sniff(data: bytes) -> str | None:
    """Guess an encoding for pages that declare none."""
    sample = data[:200_000]
    for enc in ("utf-8", "gb18030"):
        try:
            sample.decode(enc)
        except UnicodeDecodeError as exc:
            # A multibyte character cut by the sample boundary is not a real failure.
            if exc.start < len(sample) - 4:
                continue
        return enc
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample[:50_000]).best()
        return best.encoding if best is not None else None
    except Exception:
        return None


def _normalise_hint(encoding: str | None) -> str | None:
    if not encoding:
        return None
    name = encoding.strip().strip("\"'").lower()
    if name in _GB_ALIASES:
        return "gb18030"
    try:
        return resolve_encoding(name) or codecs.lookup(name).name
    except LookupError:
        return None


def decode_html(body: bytes | str, encoding: str | None = None) -> tuple[str, str | None]:
    """Return ``(text, encoding used)``; ``encoding`` is a charset from the HTTP header, if any."""
    if isinstance(body, str):
        return body, None
    hint = _normalise_hint(encoding)
    header = f"text/html; charset={hint}" if hint else None
    try:
        used, text = html_to_unicode(header, body, default_encoding="utf-8", auto_detect_fun=_sniff)
    except Exception:
        return body.decode("utf-8", "replace"), "utf-8"
    return text, used
