"""``jingshao extract PATH_OR_URL... [--url URL] [--json]``.

Files (plain or ``.html.gz``) are read and extracted one after the other; http(s) inputs are
fetched with httpx (20 s timeout, desktop user agent). A read/fetch failure is reported for that
input and the others go on.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import TextIO

from .model import FIELDS, ProductExtraction, decimal_text
from .pipeline import extract_product

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
)
TIMEOUT_S = 20.0


def _read(source: str) -> tuple[bytes, str | None, str]:
    """(body, charset from HTTP, final URL or '') for a file path or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        import httpx

        resp = httpx.get(
            source,
            timeout=TIMEOUT_S,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"},
        )
        resp.raise_for_status()
        return resp.content, resp.charset_encoding, str(resp.url)
    data = Path(source).read_bytes()
    if source.endswith(".gz") or data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data, None, ""


def _print_block(console: object, source: str, result: ProductExtraction) -> None:
    from rich.table import Table

    table = Table(title=source, show_header=True, header_style="bold", title_justify="left")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    table.add_column("layer")
    table.add_column("via", overflow="fold")
    for name in FIELDS:
        value = getattr(result, name)
        if name in ("price", "original_price"):
            value = decimal_text(value)
            if name == "price" and value is not None and result.price_is_range:
                value += " (lowest of a range)"
        src = result.sources.get(name, {})
        table.add_row(name, "" if value is None else str(value), src.get("layer", ""), src.get("via", ""))
    console.print(table)  # type: ignore[attr-defined]
    if result.error:
        console.print(f"[yellow]error:[/yellow] {result.error}")  # type: ignore[attr-defined]


def run(inputs: list[str], urls: list[str], as_json: bool, out: TextIO) -> int:
    """Extract every input; ``urls[i]`` is the page URL of file input ``i`` (one URL applies to all).

    Returns 0 when every input was read (extraction errors included), 1 when any could not be read.
    """
    from rich.console import Console

    console = Console(file=out, soft_wrap=False, width=120)
    status = 0
    for i, source in enumerate(inputs):
        page_url = urls[i] if i < len(urls) else (urls[0] if len(urls) == 1 else "")
        try:
            body, charset, fetched_url = _read(source)
        except Exception as exc:
            status = 1
            result = ProductExtraction(error=f"could not read input: {type(exc).__name__}: {exc}")
        else:
            result = extract_product(body, page_url or fetched_url, encoding=charset)
        if as_json:
            out.write(json.dumps(result.to_json(source), ensure_ascii=False) + "\n")
        else:
            _print_block(console, source, result)
    out.flush()
    return status
