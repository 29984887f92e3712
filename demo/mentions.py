"""Brand-mention sources of the demo and the config a user writes for each (:func:`demo_mention_sources`).

Routes (every answer is computed from the demo clock, see :mod:`jingshao.demo.crisis`):

- ``/feeds/news.xml``: RSS 2.0, national media (authority 3), newest :data:`RSS_LIMIT` items, mostly
  not about the brand (a feed is not a search: the crawler filters by keywords).
- ``/feeds/forum.atom``: Atom feed of the forum's newest threads (authority 1).
- ``/news/search?q=<kw>&page=<n>``: industry news search, HTML, 10 per page, 下一页 link (authority 2).
- ``/forum/search?kw=<kw>&page=<n>``: forum thread search, HTML, 20 per page (authority 1).
- ``/social/api/search?keyword=<kw>&cursor=<c>``: Weibo-like JSON, 20 per page, ``data.next_cursor``
  (null on the last page) (authority 1).
- ``/hot/list.html``: a hot list filled by JavaScript from ``/hot/api/list`` (render = true, authority 3).
- Item pages (``/news/a/..``, ``/news/national/..``, ``/forum/thread/..``, ``/social/status/..``,
  ``/hot/topic/..``) so that links resolve.
- ``/_demo/crisis`` (GET status; POST ``?on=1|0`` or ``?phase=N``) and ``/_demo/clock`` (GET; POST
  ``?shift=SECONDS``, ``?freeze=now|ISO``, ``?unfreeze=1``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

from jingshao.demo.crisis import CrisisState, DemoClock
from jingshao.demo.mentions_data import (
    ATOM,
    FORUM,
    HOT,
    NEWS,
    RSS,
    SOCIAL,
    SOURCES,
    Post,
    Snapshot,
    snapshot,
)
from jingshao.demo.router import Request, Response, Router
from jingshao.demo.shop import ShopState

NEWS_PAGE_SIZE = 10
FORUM_PAGE_SIZE = 20
SOCIAL_PAGE_SIZE = 20
XML_UTF8 = "application/xml; charset=utf-8"


def demo_mention_sources(base_url: str) -> list[dict[str, object]]:
    """One config dict per mention source. html/render: CSS selectors relative to one item (parsel style
    with ``::text`` / ``::attr(x)``); json: dotted paths relative to one item. ``{keyword}`` is replaced by
    each brand keyword (URL-encoded); ``{cursor}`` by ``start`` first, then by the value at ``cursor``."""
    root = base_url.rstrip("/")

    def name(key: str) -> str:
        return SOURCES[key][0]

    def authority(key: str) -> int:
        return SOURCES[key][1]

    return [
        {"name": name(RSS), "kind": "rss", "url": f"{root}/feeds/news.xml", "authority": authority(RSS)},
        {"name": name(ATOM), "kind": "rss", "url": f"{root}/feeds/forum.atom", "authority": authority(ATOM)},
        {
            "name": name(NEWS),
            "kind": "html",
            "url": f"{root}/news/search?q={{keyword}}&page=1",
            "authority": authority(NEWS),
            "item": "div.news-item",
            "title": "h3 a::text",
            "link": "h3 a::attr(href)",
            "snippet": "p.snippet::text",
            "time": "span.time::text",
            "author": "span.source::text",
            "pagination": "next",
            "next": "a.next::attr(href)",
        },
        {
            "name": name(FORUM),
            "kind": "html",
            "url": f"{root}/forum/search?kw={{keyword}}",
            "authority": authority(FORUM),
            "item": "li.thread",
            "title": "a.thread-title::text",
            "link": "a.thread-title::attr(href)",
            "snippet": "div.thread-snippet::text",
            "time": "span.thread-time::text",
            "author": "span.thread-author::text",
            "pagination": "next",
            "next": "a.next::attr(href)",
        },
        {
            "name": name(SOCIAL),
            "kind": "json",
            "url": f"{root}/social/api/search?keyword={{keyword}}&cursor={{cursor}}",
            "authority": authority(SOCIAL),
            "item": "data.statuses",
            "title": None,
            "link": "url",
            "snippet": "text",
            "time": "created_at",
            "author": "user.screen_name",
            "pagination": "cursor",
            "cursor": "data.next_cursor",
            "start": "",
        },
        {
            "name": name(HOT),
            "kind": "render",
            "url": f"{root}/hot/list.html",
            "authority": authority(HOT),
            "item": "li.hot-item",
            "title": "a.hot-title::text",
            "link": "a.hot-title::attr(href)",
            "snippet": "p.hot-desc::text",
            "time": "time.hot-time::attr(datetime)",
            "author": "span.hot-host::text",
        },
    ]


# --- rendering ------------------------------------------------------------------------------------


def _minute_text(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _host_root(request: Request) -> str:
    host = request.headers.get("Host") or request.headers.get("host") or "127.0.0.1"
    return f"http://{host}"


def _page_of(posts: list[Post], page: int, size: int) -> tuple[list[Post], int]:
    last = max(1, math.ceil(len(posts) / size))
    return (posts[(page - 1) * size : page * size] if page >= 1 else []), last


def _pager(base: str, page: int, last: int) -> str:
    nav = [f'<span class="total">第{page}页 / 共{last}页</span>']
    if page > 1:
        nav.append(f'<a class="prev" href="{escape(base)}&amp;page={page - 1}">上一页</a>')
    if page < last:
        nav.append(f'<a class="next" href="{escape(base)}&amp;page={page + 1}">下一页</a>')
    return f'<div class="pager">{"".join(nav)}</div>'


def _html_page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body>{body}</body></html>\n"
    )


def rss_feed(posts: list[Post], root: str, now: datetime) -> str:
    items = "".join(
        "<item>"
        f"<title>{xml_escape(p.title)}</title><link>{xml_escape(root + p.path)}</link>"
        f"<description>{xml_escape(p.text)}</description><pubDate>{format_datetime(p.posted_at)}</pubDate>"
        f"<dc:creator>{xml_escape(p.author)}</dc:creator>"
        f'<guid isPermaLink="true">{xml_escape(root + p.path)}</guid></item>\n'
        for p in posts
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>\n'
        f"<title>财经要闻</title><link>{root}/news/</link><description>央视财经、人民日报、新华社要闻聚合</description>"
        f"<language>zh-cn</language><lastBuildDate>{format_datetime(now)}</lastBuildDate>\n{items}</channel></rss>\n"
    )


def atom_feed(posts: list[Post], root: str, now: datetime) -> str:
    entries = "".join(
        "<entry>"
        f'<title>{xml_escape(p.title)}</title><link href="{xml_escape(root + p.path)}"/>'
        f"<id>{xml_escape(root + p.path)}</id><published>{p.posted_at.isoformat()}</published>"
        f"<updated>{p.posted_at.isoformat()}</updated><author><name>{xml_escape(p.author)}</name></author>"
        f"<summary>{xml_escape(p.text)}</summary></entry>\n"
        for p in posts
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>机友论坛 最新帖子</title><id>{root}/forum/</id><updated>{now.isoformat()}</updated>"
        f'<link href="{root}/feeds/forum.atom" rel="self"/><link href="{root}/forum/"/>\n{entries}</feed>\n'
    )


def news_search_page(posts: list[Post], keyword: str, page: int) -> str:
    chunk, last = _page_of(posts, page, NEWS_PAGE_SIZE)
    items = "".join(
        f'<div class="news-item"><h3><a href="{p.path}" target="_blank">{escape(p.title)}</a></h3>'
        f'<p class="snippet">{escape(p.text)}</p>'
        f'<div class="meta"><span class="source">{escape(p.author)}</span> '
        f'<span class="time">{_minute_text(p.posted_at)}</span></div></div>'
        for p in chunk
    )
    header = (
        f'<form class="search" action="/news/search"><input name="q" value="{escape(keyword)}">'
        f'<button>搜索</button></form><div class="result-count">找到相关资讯约{len(posts)}篇</div>'
    )
    results = items + _pager(f"/news/search?q={quote(keyword)}", page, last)
    return _html_page(
        f"{keyword} - 行业资讯搜索", header + (results if posts else '<div class="no-result">没有找到相关资讯</div>')
    )


def forum_search_page(posts: list[Post], keyword: str, page: int) -> str:
    chunk, last = _page_of(posts, page, FORUM_PAGE_SIZE)
    rows = "".join(
        f'<li class="thread"><a class="thread-title" href="{p.path}">{escape(p.title)}</a>'
        f'<div class="thread-snippet">{escape(p.text)}</div>'
        f'<div class="thread-meta"><span class="thread-author">{escape(p.author)}</span> 发表于 '
        f'<span class="thread-time">{_minute_text(p.posted_at)}</span></div></li>'
        for p in chunk
    )
    body = (
        f'<div class="forum-head"><h1>机友论坛</h1><form action="/forum/search"><input name="kw" '
        f'value="{escape(keyword)}"><button>搜索帖子</button></form></div>'
        f'<ul class="thread-list">{rows}</ul>'
    )
    if posts:
        body += _pager(f"/forum/search?kw={quote(keyword)}", page, last)
    return _html_page(f"{keyword} - 机友论坛搜索", body)


def social_status(p: Post, root: str) -> dict[str, object]:
    uid = 1_000_000 + sum(ord(c) for c in p.author) * 37
    return {
        "id": p.id,
        "mid": p.id,
        "url": root + p.path,
        "text": p.text,
        "created_at": p.posted_at.isoformat(),
        "reposts_count": p.reposts,
        "comments_count": p.reposts // 3,
        "attitudes_count": p.reposts * 2 + 1,
        "user": {"id": uid, "screen_name": p.author, "followers_count": uid % 5000, "verified": False},
        "is_repost": p.copy_of is not None,
    }


def social_search(posts: list[Post], cursor: str, root: str) -> dict[str, object]:
    """Newest first; ``cursor`` is the id of the last post already seen ("" for the first page)."""
    ordered = sorted(posts, key=lambda p: int(p.id), reverse=True)
    if cursor:
        ordered = [p for p in ordered if int(p.id) < int(cursor)]
    chunk = ordered[:SOCIAL_PAGE_SIZE]
    more = len(ordered) > SOCIAL_PAGE_SIZE
    return {
        "ok": 1,
        "data": {
            "statuses": [social_status(p, root) for p in chunk],
            "next_cursor": chunk[-1].id if more else None,
            "total_number": len(posts),
        },
    }


def hot_list_json(posts: list[Post]) -> dict[str, object]:
    return {
        "updated": None,
        "items": [
            {
                "rank": i + 1,
                "title": p.title,
                "url": p.path,
                "desc": p.text,
                "heat": p.heat,
                "host": p.author,
                "time": p.posted_at.isoformat(),
                "label": "爆" if i < 3 else "",
            }
            for i, p in enumerate(posts)
        ],
    }


HOT_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>热搜榜 - 实时热点</title></head>
<body><h1>热搜榜</h1><p class="hint">实时更新</p>
<ol id="hot-list" class="hot-list" data-state="loading"></ol>
<script>
(function () {
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; }); }
  fetch("/hot/api/list").then(function (r) { return r.json(); }).then(function (data) {
    var list = document.getElementById("hot-list");
    list.innerHTML = data.items.map(function (it) {
      return '<li class="hot-item"><span class="hot-rank">' + it.rank + '</span>' +
        '<a class="hot-title" href="' + esc(it.url) + '">' + esc(it.title) + '</a>' +
        '<p class="hot-desc">' + esc(it.desc) + '</p>' +
        '<span class="hot-heat">' + it.heat + '</span> <span class="hot-host">' + esc(it.host) + '</span> ' +
        '<time class="hot-time" datetime="' + esc(it.time) + '">' + esc(it.time.slice(11, 16)) + '</time></li>';
    }).join("");
    list.setAttribute("data-state", "ready");
  });
})();
</script></body></html>
"""


def item_page(p: Post) -> str:
    return _html_page(
        p.title or p.text[:30],
        f"<article><h1>{escape(p.title or p.author)}</h1>"
        f'<div class="meta"><span class="author">{escape(p.author)}</span> '
        f'<time datetime="{p.posted_at.isoformat()}">{_minute_text(p.posted_at)}</time></div>'
        f'<div class="content"><p>{escape(p.text)}</p></div></article>',
    )


# --- routes ---------------------------------------------------------------------------------------


def _search_page(request: Request, keyword_arg: str, render: Callable[[str, int], str]) -> Response:
    """An HTML search result page: the keyword from `keyword_arg`, the page number from `page`."""
    try:
        page = int(request.arg("page", "1") or "1")
    except ValueError:
        return Response.error(400, "page must be an integer")
    return Response.html(render(request.arg(keyword_arg, "") or "", page))


def register_mention_routes(router: Router, shop: ShopState) -> None:
    """Mention sources, item pages and the crisis/clock control endpoints."""
    crisis: CrisisState = shop.crisis
    clock: DemoClock = shop.clock

    def snap() -> Snapshot:
        return snapshot(clock.now(), crisis.timeline())

    @router.get(r"/feeds/news\.xml")
    def news_feed(request: Request) -> Response:
        s = snap()
        body = rss_feed(s.by_source[RSS], _host_root(request), s.now)
        return Response(200, body.encode("utf-8"), "application/rss+xml; charset=utf-8", {"Cache-Control": "no-cache"})

    @router.get(r"/feeds/forum\.atom")
    def forum_feed(request: Request) -> Response:
        s = snap()
        body = atom_feed(s.by_source[ATOM], _host_root(request), s.now)
        return Response(200, body.encode("utf-8"), "application/atom+xml; charset=utf-8", {"Cache-Control": "no-cache"})

    @router.get(r"/news/search")
    def news_search(request: Request) -> Response:
        return _search_page(request, "q", lambda kw, page: news_search_page(snap().search(NEWS, kw), kw, page))

    @router.get(r"/forum/search")
    def forum_search(request: Request) -> Response:
        return _search_page(request, "kw", lambda kw, page: forum_search_page(snap().search(FORUM, kw), kw, page))

    @router.get(r"/social/api/search")
    def social_api(request: Request) -> Response:
        keyword = request.arg("keyword", "") or ""
        cursor = (request.arg("cursor", "") or "").strip()
        if cursor and not cursor.isdigit():
            return Response.error(400, "cursor must be a next_cursor value from a previous page")
        return Response.json(social_search(snap().search(SOCIAL, keyword), cursor, _host_root(request)))

    @router.get(r"/hot/list\.html")
    def hot_page(request: Request) -> Response:
        return Response.html(HOT_PAGE)

    @router.get(r"/hot/api/list")
    def hot_api(request: Request) -> Response:
        s = snap()
        data = hot_list_json(s.by_source[HOT])
        data["updated"] = s.now.isoformat()
        return Response.json(data)

    @router.get(r"/(?:news/a|news/national|forum/thread|social/status|hot/topic)/[\w-]{1,40}(?:\.html)?")
    def mention_item(request: Request) -> Response:
        post = snap().find(request.path)
        if post is None:
            return Response.error(404, f"no such item now: {request.path}")
        return Response.html(item_page(post))

    register_crisis_control_routes(router, crisis, clock)


def crisis_status(crisis: CrisisState, clock: DemoClock) -> dict[str, object]:
    return {
        "phase": crisis.phase,
        "active": crisis.active,
        "now": clock.now().isoformat(),
        "timeline": [
            {
                "crisis": s.crisis,
                "phase": s.phase,
                "start": s.start.isoformat(),
                "end": s.end.isoformat() if s.end else None,
                "backlog": list(s.backlog),
            }
            for s in crisis.timeline()
        ],
    }


def register_crisis_control_routes(router: Router, crisis: CrisisState, clock: DemoClock) -> None:
    """``/_demo/crisis`` and ``/_demo/clock`` for tests and scripts in another process."""

    @router.get(r"/_demo/crisis")
    def get_crisis(request: Request) -> Response:
        return Response.json(crisis_status(crisis, clock))

    @router.post(r"/_demo/crisis")
    def set_crisis(request: Request) -> Response:
        on, phase = request.arg("on"), request.arg("phase")
        try:
            if phase is not None:
                crisis.set_phase(int(phase))
            elif on in ("1", "true"):
                crisis.start()
            elif on in ("0", "false"):
                crisis.stop()
            else:
                raise ValueError("give on=1|0 or phase=0..3")
        except ValueError as exc:
            return Response.error(400, str(exc))
        return Response.json(crisis_status(crisis, clock))

    @router.get(r"/_demo/clock")
    def get_clock(request: Request) -> Response:
        return Response.json({"now": clock.now().isoformat()})

    @router.post(r"/_demo/clock")
    def set_clock(request: Request) -> Response:
        try:
            if request.arg("shift") is not None:
                clock.shift(timedelta(seconds=float(request.arg("shift") or 0)))
            if request.arg("freeze") is not None:
                raw = request.arg("freeze") or "now"
                clock.freeze(None if raw == "now" else datetime.fromisoformat(raw))
            if request.arg("unfreeze") in ("1", "true"):
                clock.unfreeze()
        except ValueError as exc:
            return Response.error(400, f"bad clock request: {exc}")
        return Response.json({"now": clock.now().isoformat()})
