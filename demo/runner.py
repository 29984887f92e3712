"""`jingshao demo`: the whole job on the bundled demo shop, on 127.0.0.1 only.

Crawls run as child processes, the way the scheduler runs them (Twisted's reactor cannot
restart): products, reviews and brand mentions; then the shop moves to its next state and the
crawls run again; then what changed is shown, with what buyers say about each competitor.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from sqlalchemy import func, select

from jingshao.alerts.service import dispatch_notifications, run_evaluation
from jingshao.config import load_config
from jingshao.core.formatting import money, price_change, stock_label
from jingshao.core.tags import tag_from_row
from jingshao.crawlers.browser import BrowserNotFound, resolve_chromium
from jingshao.demo.catalog import demo_products
from jingshao.demo.mentions import demo_mention_sources
from jingshao.demo.mentions_data import DEMO_BRAND
from jingshao.demo.server import DemoServer
from jingshao.demo.webhooks import ChatReceivers
from jingshao.nlp import aggregate_tags
from jingshao.reports.service import daily_report
from jingshao.scheduler import run_crawl_child
from jingshao.storage.db import open_database
from jingshao.storage.models import AdlawHit, CrawlRun, Mention, Product, Review
from jingshao.storage.repository import changes_in_run, reviews_for


class DemoFailed(Exception):
    pass


# Review-tag lexicon per demo shop (the demo sells shoes and snacks besides electronics).
DEMO_CATEGORIES = {"李宁官方旗舰店": "apparel", "三只松鼠官方旗舰店": "food"}


def write_demo_config(
    base_url: str,
    workdir: Path,
    with_browser: bool,
    *,
    products: list | None = None,
    database_url: str | None = None,
    mentions: bool = True,
    chat=None,
) -> Path:
    """A config for the demo shop's catalog (or the given DemoProducts), crawling politely but fast."""

    by_comp: dict[str, list] = {}
    for p in products if products is not None else demo_products(base_url):
        if p.render and not with_browser:
            continue
        by_comp.setdefault(p.competitor, []).append(p)
    workdir.mkdir(parents=True, exist_ok=True)
    db_url = database_url or f"sqlite:///{(workdir / 'demo.db').as_posix()}"
    lines = [
        'timezone = "Asia/Shanghai"',
        "[database]",
        f"url = {toml_str(db_url)}",
        "[crawl]",
        "download_delay = 0",
        "concurrency_per_domain = 8",
        "autothrottle = false",
        "retry_times = 2",
        "timeout = 20",
        "[web]",
        "preview_allow_private = true",  # the demo shop is on 127.0.0.1 (the preview refuses it otherwise)
    ]
    for comp, prods in by_comp.items():
        lines += [
            "[[competitors]]",
            f"name = {toml_str(comp)}",
            f"category = {toml_str(DEMO_CATEGORIES.get(comp, 'electronics'))}",
        ]
        for p in prods:
            lines += ["  [[competitors.products]]", f"  url = {toml_str(p.url)}", f"  name = {toml_str(p.name)}"]
            if p.render:
                lines.append("  render = true")
            if getattr(p, "reviews", None):
                lines.append(f"  reviews = {toml_inline(p.reviews)}")
            if p.selectors:
                lines.append("    [competitors.products.selectors]")
                lines += [f"    {k} = {toml_str(v)}" for k, v in p.selectors.items()]
    if mentions:
        lines += [
            "[[brands]]",
            *(f"{k} = {toml_inline(v)}" for k, v in DEMO_BRAND.items()),
            # The demo's crisis resolves within hours: its 24-hour windows are shortened.
            "  [brands.crisis]",
            "  red_growth_hours = 2",
            "  blue_share_hours = 2",
        ]
        for src in demo_mention_sources(base_url):
            if src["kind"] == "render" and not with_browser:
                continue
            lines += [
                "[[mention_sources]]",
                "max_pages = 100",  # backfill the demo's 7 days at once
                *(f"{k} = {toml_inline(v)}" for k, v in src.items() if v is not None),
            ]
    for name in ("dingtalk", "feishu") if chat is not None else ():
        lines += ["[[channels]]", *(f"{k} = {toml_inline(v)}" for k, v in chat.channel_settings(name).items())]
    path = workdir / "jingshao.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def toml_inline(value: object) -> str:
    """A TOML inline value (tables as `{k = v}`), enough for the demo's generated config."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_inline(v)}" for k, v in value.items() if v is not None) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_inline(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return toml_str(str(value))


def _run_child_crawl(config_path: Path, spider: str = "products") -> int:
    """A crawl in a child process, as the scheduler runs it (the reactor cannot restart)."""

    result = run_crawl_child(spider, config_path, timeout=600, capture=False, evaluate=False)
    return 1 if result.returncode is None else result.returncode


def _crawl(config_path: Path, spider: str, *, quiet: bool = False) -> None:

    # The demo evaluates the alert rules itself, at the demo shop's clock: the crawl does not.
    result = run_crawl_child(spider, config_path, timeout=600, capture=quiet, evaluate=False)
    if not result.ok:
        raise DemoFailed(f"the {spider} crawl failed (exit {result.returncode})")


def _rule(console: Console, title: str) -> None:
    """A section heading. Piped output has no width limit (tables take what they need), which would
    draw a rule 1,000 columns wide: a heading is no wider than a wide terminal."""
    console.print(Rule(title), width=min(console.width, 120))


def run_demo(workdir: Path, *, browser: bool, console: Console, err: Console) -> None:

    if browser:
        try:
            resolve_chromium(None)
        except BrowserNotFound as exc:
            err.print(f"[yellow]warning[/] {exc}; skipping the render = true demo pages", highlight=False)
            browser = False
    workdir.mkdir(parents=True, exist_ok=True)

    with DemoServer() as shop, ChatReceivers() as chat:
        cfg_path = write_demo_config(shop.base_url, workdir, browser, chat=chat)
        _rule(console, f"竞哨 demo — shop at {shop.base_url}, state {shop.state}")
        console.print(f"config: {cfg_path}")
        for spider in ("products", "reviews", "mentions"):
            _crawl(cfg_path, spider)
        shop.advance()
        _rule(console, f"the shop changed (state {shop.state}): crawling again")
        for spider in ("products", "reviews"):
            _crawl(cfg_path, spider)
        show_results(cfg_path, console)
        run_crisis(cfg_path, shop, chat, console)
    build_demo_report(cfg_path, console)


def show_results(cfg_path: Path, console: Console) -> None:

    cfg = load_config(cfg_path)
    db = open_database(cfg.database_url)
    with db.session() as s:
        last = {
            sp: s.scalar(select(func.max(CrawlRun.id)).where(CrawlRun.spider == sp)) for sp in ("products", "reviews")
        }
        changes = changes_in_run(s, last["products"] or 0)  # the demo has just crawled products
        new_reviews = s.scalar(select(func.count()).select_from(Review).where(Review.crawl_run_id == last["reviews"]))
        reviews = reviews_for(s)
        adlaw = s.execute(
            select(Product.name, AdlawHit.word, AdlawHit.context)
            .join(Product, AdlawHit.product_id == Product.id)
            .order_by(AdlawHit.id)
        ).all()
        mentions = s.execute(select(Mention.label, func.count()).group_by(Mention.label)).all()

    table = Table(title="第二次抓取发现的变化 (what changed)", title_justify="left")
    for col in ("竞品店铺", "商品", "价格", "库存", "促销"):
        table.add_column(col)
    for c in changes:
        b, a = c.before, c.after
        stock = (
            stock_label(a.availability)
            if b and b.availability == a.availability
            else f"{stock_label(b.availability if b else None)} → {stock_label(a.availability)}"
        )
        promo = "未变" if b and b.promo == a.promo else (a.promo or "—")
        price = price_change(b.price if b else None, a.price) if not b or b.price != a.price else money(a.price)
        table.add_row(c.competitor, c.product[:28], price, stock, promo[:48])
    console.print(table)
    console.print(f"{len(changes)} products changed")

    by_comp: dict[str, list] = {}
    for r in reviews:
        by_comp.setdefault(r.competitor, []).append(r)
    tags = Table(
        title=f"买家怎么说 (what buyers say) — {len(reviews)} 条评价, 本次新增 {new_reviews} 条", title_justify="left"
    )
    for col in ("竞品店铺", "评价数", "好评率", "最常见的优点", "最常见的缺点"):
        tags.add_column(col)
    for comp, items in by_comp.items():
        summary = aggregate_tags((r.text, [tag_from_row(t) for t in (r.tags or [])], r.sentiment or 0.5) for r in items)
        pros = [f"{t.aspect}-{t.opinion}({t.reviews})" for t in summary if t.polarity == "pos"][:2]
        cons = [f"{t.aspect}-{t.opinion}({t.reviews})" for t in summary if t.polarity == "neg"][:2]
        positive = sum(1 for r in items if (r.sentiment or 0) >= 0.5) / len(items)
        tags.add_row(comp, str(len(items)), f"{positive:.0%}", "、".join(pros), "、".join(cons))
    console.print(tags)
    if adlaw:
        console.print(
            f"广告法违禁词 (ad-law words in competitors' copy): {len(adlaw)} 处, e.g. "
            + "; ".join(f"{w}「{ctx}」" for _, w, ctx in adlaw[:3])
        )
    counts = dict(mentions)
    console.print(
        f"品牌声量 (brand mentions): {sum(counts.values())} 条 — 正面 {counts.get('pos', 0)}, "
        f"中性 {counts.get('neu', 0) + counts.get('neutral', 0)}, 负面 {counts.get('neg', 0)}"
    )
    console.print(f"database: {cfg.database_url}")


def run_crisis(cfg_path: Path, shop, chat, console: Console) -> None:
    """Flip the demo's crisis switch phase by phase; crawl, evaluate and dispatch after each, and
    show what the DingTalk-like robot received."""

    cfg = load_config(cfg_path)
    _rule(console, "舆情危机演练 (crisis drill): the demo brand 蜜橙 gets a burst of complaints")
    steps = [
        ("平时 (ordinary day)", None),
        ("阶段1: 零星投诉", 1),
        ("阶段2: 行业媒体跟进", 2),
        ("阶段3: 央媒报道、热搜", 3),
        ("危机平息 3小时后", "stop"),
        ("再10分钟", "later"),
    ]
    for label, action in steps:
        if action == "stop":
            shop.stop_crisis()
            shop.clock.shift(timedelta(hours=3))
        elif action == "later":
            shop.clock.shift(timedelta(minutes=10))
        elif action:
            shop.crisis_phase(action)
        _crawl(cfg_path, "mentions", quiet=True)
        report = run_evaluation(cfg, now=shop.now())
        dispatch_notifications(cfg, now=shop.now())
        events = [f"{c.event} {c.level}" for c in report.changes if c.family == "crisis"] or ["—"]
        console.print(f"  {label}: {', '.join(events)}")
    console.print("钉钉群收到 (what the DingTalk group received):")
    for d in chat.accepted("dingtalk"):
        console.print(f"  {d.payload['markdown']['title']}", highlight=False)


def build_demo_report(cfg_path: Path, console: Console) -> None:

    cfg = load_config(cfg_path)
    today = datetime.now(cfg.tz).date()
    built = daily_report(cfg, send=False, date_from=today, date_to=today, out_dir=cfg_path.parent / "reports")
    console.print(f"竞品日报 (daily report): {built['html']} ({built['kb']} KB)")
    console.print(
        f"next: jingshao prices --config {cfg_path}   |   jingshao tags --config {cfg_path}   |   "
        f"jingshao alerts list --all --config {cfg_path}"
    )
