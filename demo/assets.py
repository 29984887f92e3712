"""Static assets of the demo shop, generated in code: PNG images, web fonts and the style sheet.

Images and fonts exist so that a browser crawl without resource blocking does the work a real shop
page costs (the ``/bench/render/`` pages reference unique URLs, so the browser cache cannot help).
Any ``/static/img/<k>.png`` and ``/static/font/<k>.woff2`` exists; the bytes come from a small
pool so that serving them costs the server nothing but the write.
"""

from __future__ import annotations

import random
import struct
import zlib
from functools import cache

IMAGE_POOL_SIZE = 64
IMAGE_SIZE = 200  # pixels, square
FONT_POOL_SIZE = 4
FONT_BYTES = 48 * 1024

# Quantise random bytes to 16 levels so the PNGs compress a little, like real photos (~60-90 KB each).
_QUANTISE = bytes(b & 0xF0 for b in range(256))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


@cache
def _pool_png(slot: int) -> bytes:
    rng = random.Random(f"jingshao-demo-img-{slot}")
    width = height = IMAGE_SIZE
    row_len = width * 3
    noise = rng.randbytes(row_len * height).translate(_QUANTISE)
    raw = b"".join(b"\x00" + noise[y * row_len : (y + 1) * row_len] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw, 6))
        + _png_chunk(b"IEND", b"")
    )


def png(k: int) -> bytes:
    """The bytes of ``/static/img/<k>.png``: a valid RGB PNG, deterministic for ``k``."""
    return _pool_png(k % IMAGE_POOL_SIZE)


@cache
def _pool_font(slot: int) -> bytes:
    rng = random.Random(f"jingshao-demo-font-{slot}")
    return b"wOF2\x00\x01\x00\x00" + rng.randbytes(FONT_BYTES - 8)


def font(k: int) -> bytes:
    """The bytes of ``/static/font/<k>.woff2`` (a WOFF2 signature, then filler a browser rejects)."""
    return _pool_font(k % FONT_POOL_SIZE)


SHOP_CSS = """\
@font-face { font-family: "ShopSans"; src: url("/static/font/0.woff2") format("woff2"); font-display: swap; }
* { box-sizing: border-box; margin: 0; padding: 0; }
body { font: 12px/1.5 "ShopSans", "PingFang SC", "Microsoft YaHei", sans-serif; color: #333; background: #f5f5f5; }
a { color: #333; text-decoration: none; }
a:hover { color: #e4393c; }
.topbar { background: #e3e4e5; height: 30px; line-height: 30px; padding: 0 20px; color: #999; }
.header { background: #fff; padding: 16px 20px; display: flex; align-items: center; gap: 32px; }
.logo { font-size: 28px; font-weight: bold; color: #e4393c; }
.search input { width: 420px; height: 34px; border: 2px solid #e4393c; padding: 0 8px; }
.search button { height: 34px; width: 72px; background: #e4393c; color: #fff; border: 0; }
.nav { background: #fff; border-bottom: 2px solid #e4393c; padding: 0 20px; }
.nav a { display: inline-block; padding: 8px 14px; font-size: 15px; }
.breadcrumb { padding: 10px 20px; color: #666; }
.breadcrumb a::after { content: " > "; color: #999; }
.product-main { display: flex; gap: 24px; background: #fff; padding: 20px; }
.gallery .main-img { width: 360px; height: 360px; border: 1px solid #eee; }
.gallery .thumbs img { width: 56px; height: 56px; margin: 4px; border: 1px solid #eee; }
.product-title, .sku-name { font-size: 18px; font-weight: bold; margin-bottom: 8px; }
.price-area, .summary-price { background: #f3f3f3; padding: 12px; margin: 8px 0; }
.price-current, .p-price, .tm-price, .price-now { color: #e4393c; font-size: 24px; font-weight: bold; }
del { color: #999; margin-left: 8px; }
.promo-block li, .prom-item { display: inline-block; margin-right: 12px; color: #e4393c; }
.promo-tag { border: 1px solid #e4393c; padding: 0 4px; }
.sku-selector dl { display: flex; margin: 8px 0; }
.sku-selector dt { width: 60px; color: #999; }
.sku-selector .sku { border: 1px solid #ccc; padding: 4px 10px; margin-right: 6px; }
.sku-selector .sku.selected { border-color: #e4393c; }
.buy-buttons a { display: inline-block; width: 140px; height: 44px; line-height: 44px; text-align: center;
  font-size: 16px; margin-right: 10px; }
.btn-buy { background: #ffeded; color: #e4393c; border: 1px solid #e4393c; }
.btn-cart { background: #e4393c; color: #fff; }
.btn-notify { background: #999; color: #fff; }
.recommend, .also-viewed { background: #fff; margin-top: 16px; padding: 16px 20px; }
.recommend ul, .also-viewed ul { display: flex; flex-wrap: wrap; list-style: none; gap: 16px; }
.recommend li, .also-viewed li { width: 180px; }
.recommend img, .also-viewed img { width: 160px; height: 160px; }
.rec-price { color: #e4393c; font-size: 14px; }
.detail { background: #fff; margin-top: 16px; padding: 20px; }
.detail table td { border: 1px solid #eee; padding: 6px 12px; }
.detail img { width: 750px; display: block; }
.footer { margin-top: 24px; padding: 24px 20px; background: #fff; color: #999; text-align: center; }
.off-shelf { background: #fff; padding: 60px; text-align: center; }
.off-shelf-tip { font-size: 20px; color: #e4393c; }
"""

CONTENT_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".css": "text/css; charset=utf-8",
}
