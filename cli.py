"""The `jingshao` command line."""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from datetime import datetime as _dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import delete, select

from jingshao.alerts.settings import parse_duration
from jingshao.config import DEFAULT_CONFIG_NAME, EXAMPLE_CONFIG, Config, ConfigError, load_config
from jingshao.core import redaction
from jingshao.core.export import ALERT_COLUMNS, csv_text, json_line
from jingshao.core.formatting import clock, display_zone, money, stock_label, timestamp
from jingshao.core.levels import LEVEL_EMOJI, LEVEL_NAMES
from jingshao.core.tags import tag_from_row
from jingshao.core.times import read_time
from jingshao.crawlers.catalog import any_products
from jingshao.crawlers.cookies import CookieError, load_jars
from jingshao.crawlers.mentionparse import content_key, jsonl_record, match_brand, url_key
from jingshao.crawlers.registry import SPIDERS
from jingshao.nlp import CATEGORIES, aggregate_tags, extract_tags, get_scorer, label_for, scan_adlaw, train_main
from jingshao.nlp.tags import METHODS, infer_category
from jingshao.storage.alerts_repo import (
    AlertNotFound,
    ack,
    add_silence,
    channel_health,
    get_alert,
    list_alerts,
    list_silences,
    unsilence,
)
from jingshao.storage.cookies import jar_health, sync_jars
from jingshao.storage.db import DatabaseError, open_database
from jingshao.storage.evidence import evidence_for, export_zip
from jingshao.storage.models import (
    ApiToken,
    WebSession,
    WebUser,
)
from jingshao.storage.queries import analyze as queries
from jingshao.storage.queries.status import snapshot
from jingshao.storage.repository import (
    find_products,
    insert_mentions,
    price_history,
    replace_adlaw_hits,
    reviews_for,
    update_review_scores,
    void_observations,
)

app = typer.Typer(
    help="竞哨 jingshao: watch competitors' prices, promos and stock, and your brand's public opinion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
crawl_app = typer.Typer(help="Run a crawl in the foreground.", no_args_is_help=True)
app.add_typer(crawl_app, name="crawl")


# Output shows crawled text (titles, promo copy, quotes): markup is off so "[...]" in a page is
# printed as written, never interpreted. Messages on stderr escape what they quote.
def _width(stream) -> int | None:
    """Piped output (a file, `less`, a mail) is never cut at 80 columns: tables take the width they need.
    On a terminal, or with $COLUMNS set, Rich's own width applies."""
    if os.environ.get("COLUMNS") or (hasattr(stream, "isatty") and stream.isatty()):
        return None
    return 1000


console = Console(markup=False, width=_width(sys.stdout))
err = Console(stderr=True, width=_width(sys.stderr))

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config file (default: $JINGSHAO_CONFIG or ./jingshao.toml).")
]


def _load(path: Path | None, *, crawl: bool = False) -> Config:
    """The config, with its secrets registered: from here on stdout, stderr and every log line show
    them as ``***``. A crawl's output is non-blocking too (a reader that stops never hangs it)."""

    redaction.install(nonblocking_output=crawl)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        err.print(f"[bold red]配置错误 config error[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    for warning in cfg.warnings:
        err.print(f"[yellow]配置警告 config warning[/] {escape(str(cfg.source))}: {escape(warning)}", highlight=False)
    return cfg


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]错误 error[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _db(cfg: Config):
    """Open (and migrate) the database, or exit with a clear message instead of a traceback."""

    try:
        return open_database(cfg.database_url)
    except DatabaseError as exc:
        raise _fail(str(exc)) from None


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example config.")] = Path(DEFAULT_CONFIG_NAME),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example config."""
    if path.exists() and not force:
        raise _fail(f"{path} exists; use --force to overwrite it")
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    console.print(f"wrote {path}: edit the competitors and products, then run `jingshao crawl products`")


class RichProgress:
    """Progress bar for a foreground crawl (see crawlers.runner.ProgressHook)."""

    def __init__(self, label: str) -> None:
        self.progress = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=err,
            transient=False,
        )
        self.task: TaskID | None = None

    def start(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("", total=total)

    def advance(self, description: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, advance=1, description=description[-60:])

    def stop(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, description="")
        self.progress.stop()


ProgressOpt = Annotated[bool, typer.Option(help="Show a progress bar (log lines when not on a terminal).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Scrapy log at INFO.")]


EvaluateOpt = Annotated[
    bool, typer.Option("--evaluate/--no-evaluate", help="Evaluate the alert rules for what the crawl stored.")
]

_OUTCOME_ZH = {"changed": "有变化", "unchanged": "无变化", "failed": "失败", "blocked": "被拒"}


def _run_crawl(config: Path | None, spider: str, progress: bool, verbose: bool, evaluate: bool = True) -> None:
    """Exit codes: 0 all fine, 1 some pages failed, 2 config or usage error, 3 every page failed."""
    cfg = _load(config, crawl=True)
    from jingshao.crawlers.browser import BrowserNotFound  # lazy: with the crawl stack
    from jingshao.crawlers.runner import crawl, watch_parent  # lazy: Scrapy and Twisted, for crawls only

    watch_parent()  # a scheduler's child ($JINGSHAO_PARENT_PID) stops when the scheduler dies

    if spider == "mentions" and not (cfg.brands and cfg.mention_sources):
        raise _fail(f"{cfg.source}: mentions need [[brands]] and [[mention_sources]]; nothing to crawl", 2)
    if spider != "mentions" and not any_products(cfg):
        raise _fail(
            f"{cfg.source}: no [[competitors.products]] configured (nor added in the web UI); nothing to crawl", 2
        )
    hook = RichProgress(spider) if progress and err.is_terminal else _LogProgress(spider)

    try:
        load_jars(cfg)  # issue 12: a cookie source that cannot be read stops the crawl before it starts
    except CookieError as exc:
        raise _fail(f"配置错误 config error {exc}", 2) from None
    try:
        summary = crawl(cfg, spider, progress=hook, log_level="INFO" if verbose else "WARNING")
    except (DatabaseError, BrowserNotFound) as exc:
        raise _fail(str(exc)) from None
    shown = set()
    for page in summary.failed_pages():  # one line per failed page, with its reason
        shown.add(page.url)
        err.print(
            f"[red]{_OUTCOME_ZH[page.outcome]} {page.outcome}[/] {escape(page.url)}: {escape(page.reason)}",
            highlight=False,
        )
    if spider == "products":
        console.print(
            f"抓取 crawl #{summary.run_id}: {summary.targets} 个商品 products, {summary.pages} 页已存 "
            f"pages stored: {summary.changes} 有变化 changed, {summary.unchanged} 无变化 unchanged, "
            f"{summary.failures - summary.blocked} 失败 failed, {summary.blocked} 被拒 blocked",
            highlight=False,
        )
        table = Table(title="按结果 by outcome", title_justify="left")
        for col in ("结果 outcome", "原因 reason", "页数 pages"):
            table.add_column(col, justify="right" if col.startswith("页数") else "left")
        for outcome, reason, n in summary.by_outcome():
            table.add_row(f"{_OUTCOME_ZH.get(outcome, outcome)} {outcome}", reason or "—", str(n))
        if summary.outcomes:
            console.print(table)
        per = summary.by_competitor()
        if per:  # issue 12: per competitor, so a blocked shop is visible next to the ones that worked
            console.print(_competitor_outcome_table(per))
    elif spider == "reviews":
        console.print(
            f"抓取 crawl #{summary.run_id}: {summary.targets} 个商品的评价 reviews, 读到 {summary.pages} 条 "
            f"read, {summary.changes} 条新增 new, {summary.failures} 页失败 failed pages",
            highlight=False,
        )
    else:
        console.print(
            f"抓取 crawl #{summary.run_id}: {summary.targets} 个来源 sources, "
            f"读到 {summary.pages} 条品牌提及 brand mentions read, {summary.changes} 条新增 new, "
            f"{summary.failures} 页失败 failed pages",
            highlight=False,
        )
    for e in summary.errors[:10]:
        if e.split(": ", 1)[0] not in shown:
            err.print(f"[red]错误 error[/] {escape(e)}", highlight=False)
    code = summary.exit_code
    if evaluate and (summary.pages or summary.blocked):  # blocked crawls feed the admin alert (issue 12)
        code = max(code, _evaluate_after_crawl(cfg))
    if code:
        raise typer.Exit(code)


def _competitor_outcome_table(rows) -> Table:
    """Pages changed / unchanged / failed / blocked per competitor, with the main block reason."""
    table = Table(title="按竞品 by competitor", title_justify="left")
    for col in (
        "竞品 competitor",
        "有变化 changed",
        "无变化 unchanged",
        "失败 failed",
        "被拒 blocked",
        "被拒原因 reason",
    ):
        table.add_column(col, justify="left" if col.startswith(("竞品", "被拒原因")) else "right")
    for o in rows:
        table.add_row(
            escape(o.competitor),
            str(o.changed),
            str(o.unchanged),
            str(o.failed),
            str(o.blocked),
            escape(o.blocked_reason or "—"),
        )
    return table


def _evaluate_after_crawl(cfg: Config) -> int:
    """Alerts follow a crawl: the rules see what it stored. A crawl the scheduler started leaves the
    sending to the scheduler's dispatch job; one started by hand sends what is due, like `alerts evaluate`."""
    from jingshao.alerts.service import (  # lazy: channels and httpx: a crawl run with --no-evaluate never loads them
        dispatch_notifications,
        run_evaluation,
    )
    from jingshao.crawlers.runner import PARENT_PID_ENV  # lazy: Scrapy and Twisted, for crawls only

    try:
        report = run_evaluation(cfg)
        for line in report.lines():
            console.print(f"告警 alerts: {line.strip()}", highlight=False)
        if cfg.channels and not os.environ.get(PARENT_PID_ENV):
            console.print(
                f"告警 alerts: 发送 dispatch: {dispatch_notifications(cfg) or '无待发 nothing due'}", highlight=False
            )
    except Exception as exc:
        err.print(
            f"[red]错误 error[/] 告警评估失败 alert evaluation failed: {escape(f'{type(exc).__name__}: {exc}')} "
            "(run `jingshao alerts evaluate`)",
            highlight=False,
        )
        return 1
    return 0


@crawl_app.command("products")
def crawl_products_cmd(
    config: ConfigOpt = None, progress: ProgressOpt = True, verbose: VerboseOpt = False, evaluate: EvaluateOpt = True
) -> None:
    """Crawl every configured product page once, store what changed, then evaluate the alert rules.

    One line per failed page with its reason (tracebacks only with -v), then a summary by outcome.
    Exit codes: 0 all fine, 1 some pages failed, 2 config or usage error, 3 every page failed.
    """
    _run_crawl(config, "products", progress, verbose, evaluate)


@crawl_app.command("reviews")
def crawl_reviews_cmd(
    config: ConfigOpt = None, progress: ProgressOpt = True, verbose: VerboseOpt = False, evaluate: EvaluateOpt = True
) -> None:
    """Crawl new reviews of every product with a [reviews] source; score and tag them; evaluate alerts.

    Exit codes: 0 all fine, 1 some pages failed, 2 config or usage error, 3 every page failed.
    """
    _run_crawl(config, "reviews", progress, verbose, evaluate)


class _LogProgress:
    """Progress as log lines (for logs of a scheduled crawl, where there is no terminal)."""

    def __init__(self, label: str, every: int = 50) -> None:
        self.label, self.every, self.done, self.total = label, every, 0, 0

    def start(self, total: int) -> None:
        self.total = total
        kind = SPIDERS.get(self.label)
        what = kind.units if kind else ""
        err.print(f"{self.label}: 抓取 crawling {total} {what}", highlight=False)

    def advance(self, description: str) -> None:
        self.done += 1
        if self.done % self.every == 0:
            err.print(f"{self.label}: {self.done}/{self.total} products", highlight=False)

    def stop(self) -> None:
        pass


JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV (header row, UTF-8) instead of a table.")]
PRICE_COLUMNS = (
    "product_id",
    "competitor",
    "product",
    "url",
    "observation_id",
    "first_seen_at",
    "last_seen_at",
    "price",
    "final_price",
    "original_price",
    "currency",
    "availability",
    "promo",
    "suspect",
)


def _one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise _fail("give --json or --csv, not both", 2)


def _export(columns, rows, as_json: bool, tz) -> None:
    """Rows to stdout as JSON lines or CSV; times in the configured time zone, with their offset."""

    def local(v):
        return v.astimezone(tz) if isinstance(v, datetime) else v

    rows = [[local(v) for v in row] for row in rows]
    if as_json:
        for row in rows:
            sys.stdout.write(json_line(dict(zip(columns, row, strict=True))) + "\n")
    else:
        sys.stdout.write(csv_text(columns, rows))


@app.command()
def prices(
    product: Annotated[
        str | None,
        typer.Option(
            "--product", "-p", help="Product id, URL, the shop's item id (a number in its URL) or part of its name."
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show the price history of one product or all watched products (paused and removed ones: name them)."""
    cfg = _load(config)
    _one_format(as_json, as_csv)

    db = _db(cfg)
    with db.session() as s:
        products = find_products(s, product)
        if product is None:
            # Paused and removed products (history kept) leave the list; `--product` still shows them.
            products = [p for p in products if p.active and p.removed_at is None]
        if not products:
            raise _fail(
                f"no product matches {product!r}" if product else "no products yet: run `jingshao crawl products` first"
            )
        rows = price_history(s, [p.id for p in products])
    tz = cfg.tz
    if as_json or as_csv:
        _export(PRICE_COLUMNS, [[getattr(r, c) for c in PRICE_COLUMNS] for r in rows], as_json, tz)
        return
    by_product: dict[int, list] = {}
    for r in rows:
        by_product.setdefault(r.product_id, []).append(r)
    for p in products:
        hist = by_product.get(p.id, [])
        title = f"#{p.id} {p.name or p.url}"
        if p.removed_at is not None:
            title += " (已移除 removed)"
        elif not p.active:
            title += " (已暂停 paused)"
        table = Table(title=title, title_justify="left", caption=p.url, caption_justify="left")
        for col in ("观测", "首次发现", "最近确认", "价格", "到手价", "原价", "库存", "促销"):
            table.add_column(col, no_wrap=col != "促销")
        for r in hist:
            cur = "" if r.currency in (None, "CNY") else f" {r.currency}"
            # A suspect price (beyond the plausibility factor, not yet confirmed) is marked, never alerted on.
            mark = " (存疑 suspect)" if r.suspect else ""
            table.add_row(
                f"#{r.observation_id}",
                timestamp(r.first_seen_at, tz),
                timestamp(r.last_seen_at, tz),
                money(r.price) + cur + mark,
                money(r.final_price),
                money(r.original_price),
                stock_label(r.availability),
                r.promo or "",
            )
        if not hist:
            table.add_row("—", "—", "—", "—", "—", "—", "—", "尚无观测 (no observation yet)")
        console.print(table)


observations_app = typer.Typer(
    help="Stored observations: void bad ones (kept, with who and why).", no_args_is_help=True
)
app.add_typer(observations_app, name="observations")


@observations_app.command("void")
def observations_void(
    ids: Annotated[list[int] | None, typer.Argument(help="Observation ids (the 观测 column of `prices`).")] = None,
    product: Annotated[
        str | None,
        typer.Option(
            "--product", "-p", help="Product id, URL, the shop's item id (a number in its URL) or part of its name."
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="With --product: observations first seen at or after this time (ISO 8601, e.g. 2026-12-01T08:00).",
        ),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept with the observation).")] = "",
    by: Annotated[str | None, typer.Option("--by", help="Who (default: $USER).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Void bad observations: they stay stored with who and why, and leave rules, charts, reports and `prices`."""

    if not ids and not product:
        raise _fail("say which observations: ids, or --product X [--since T]")
    if ids and product:
        raise _fail("give observation ids or --product, not both")
    if not reason.strip():
        raise _fail("--reason is required: say why the observation is wrong")
    when = None
    if since:
        try:
            when = _dt.fromisoformat(since)
        except ValueError:
            raise _fail(f"--since {since!r} is not an ISO 8601 time (e.g. 2026-12-01T08:00)") from None
    cfg = _load(config)
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=cfg.tz)
    who = by or os.environ.get("USER") or "unknown"
    db = _db(cfg)
    with db.session() as s:
        product_id = None
        if product:
            found = find_products(s, product)
            if len(found) != 1:
                raise _fail(f"--product {product!r} matches {len(found)} products; use its id")
            product_id = found[0].id
        voided = void_observations(s, by=who, reason=reason, ids=ids or (), product_id=product_id, since=when)
    if not voided:
        console.print("没有可作废的观测 nothing to void (unknown ids, or already void)")
        raise typer.Exit(1)
    console.print(
        f"已作废 voided {len(voided)} 条观测 observations: "
        f"{', '.join('#' + str(i) for i in voided)} ({who}: {reason.strip()})",
        highlight=False,
    )


@app.command()
def extract(
    inputs: Annotated[list[str], typer.Argument(help="Saved HTML files (.html or .html.gz) or http(s) URLs.")],
    url: Annotated[str | None, typer.Option("--url", help="The page URL, for saved files.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input, one per line.")] = False,
) -> None:
    """Extract title, price, stock, promo ... from pages, and say which layer found each."""
    from jingshao.crawlers.extract.command import run  # lazy: parsel/extruct, for this command only

    raise typer.Exit(run(inputs, [url] if url else [], as_json, sys.stdout))


@crawl_app.command("mentions")
def crawl_mentions_cmd(
    config: ConfigOpt = None, progress: ProgressOpt = True, verbose: VerboseOpt = False, evaluate: EvaluateOpt = True
) -> None:
    """Crawl every [[mention_sources]] for every brand; dedup, score and store new mentions; evaluate alerts.

    Exit codes: 0 all fine, 1 some pages failed, 2 config or usage error, 3 every page failed.
    """
    _run_crawl(config, "mentions", progress, verbose, evaluate)


ingest_app = typer.Typer(help="Import data gathered elsewhere.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")


@ingest_app.command("mentions")
def ingest_mentions(
    path: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines: url, text (or title), and optionally brand, source, "
            "authority (1-3), title, author, posted_at (ISO, 2026/11/30 10:00, "
            "昨天 10:00, 3分钟前, epoch s/ms ...)."
        ),
    ],
    config: ConfigOpt = None,
) -> None:
    """Import brand mentions from a JSONL file (dedup by URL and content, scored like crawled ones).

    Lines that cannot be read are reported with their line number and skipped; the rest are kept.
    A posted_at that cannot be read is reported too, but the mention is kept without a time (it then
    counts in no crisis window and shows as "unreadable time" in `jingshao status`); relative times
    (3分钟前, 昨天 10:00) are read against the import time.
    """
    cfg = _load(config)

    from jingshao.crawlers.enrichment import Enricher  # lazy: loads the NLP models on use

    if not cfg.brands:
        raise _fail(f"{cfg.source}: no [[brands]] configured", 2)
    brands = {b.name: b for b in cfg.brands}
    rows, bad, unreadable = [], 0, 0
    now = datetime.now(UTC)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{path}: cannot read: {exc}", 2) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = jsonl_record(line)
            when = read_time(rec.get("posted_at"), tz=cfg.tz, now=now)
            if rec.get("brand") and rec["brand"] not in brands:
                raise ValueError(f"unknown brand {rec['brand']!r} (configured: {', '.join(brands)})")
        except ValueError as exc:
            bad += 1
            err.print(f"{path}:{n}: skipped: {escape(str(exc))}", highlight=False)
            continue
        if when.unreadable:
            unreadable += 1
            err.print(
                f"{path}:{n}: unreadable posted_at {escape(repr(rec['posted_at']))}: kept without a time "
                "(in no crisis window)",
                highlight=False,
            )
        text = rec.get("text") or rec.get("title") or ""  # jsonl_record requires one of them
        targets = (
            [rec["brand"]]
            if rec.get("brand")
            else [b.name for b in cfg.brands if match_brand(f"{rec.get('title') or ''} {text}", b)]
        )
        for brand in targets:
            rows.append(
                {
                    "brand": brand,
                    "source": rec.get("source") or "import",
                    "authority": rec.get("authority", 1),
                    "url": rec["url"],
                    "url_key": url_key(rec["url"]),
                    "content_key": content_key(rec.get("title"), text),
                    "title": rec.get("title"),
                    "text": text,
                    "author": rec.get("author"),
                    "posted_at": when.at.astimezone(UTC) if when.at else None,
                    "time_raw": when.raw,
                }
            )
    cols = Enricher(cfg.nlp).mention_columns([f"{r['title'] or ''} {r['text']}".strip() for r in rows])
    db = _db(cfg)
    with db.session() as s:
        new = insert_mentions(s, [{**r, **c} for r, c in zip(rows, cols, strict=True)])
    console.print(
        f"{path}: {len(rows)} mentions read, {new} new, {len(rows) - new} duplicates, {bad} lines skipped, "
        f"{unreadable} with an unreadable posted_at (kept without a time)"
    )
    if bad:
        raise typer.Exit(1)


alerts_app = typer.Typer(help="Alerts: list, inspect, acknowledge, silence, evaluate, backtest.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
channels_app = typer.Typer(help="Chat channels (DingTalk, WeCom, Feishu/Lark, Slack, webhook).", no_args_is_help=True)
app.add_typer(channels_app, name="channels")


def level_name(level: str) -> str:
    return f"{LEVEL_EMOJI.get(level, '')}{LEVEL_NAMES.get(level, level)}"


def _when(cfg: Config, dt) -> str:
    return "—" if dt is None else clock(dt, cfg.tz)


@alerts_app.command("list")
def alerts_list(
    all_: Annotated[bool, typer.Option("--all", help="Resolved alerts too.")] = False,
    level: Annotated[str | None, typer.Option(help="blue, yellow or red.")] = None,
    family: Annotated[str | None, typer.Option(help="crisis, price_drop, stock_out, ...")] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Firing alerts (most severe first)."""
    cfg = _load(config)
    _one_format(as_json, as_csv)

    with _db(cfg).session() as s:
        rows = list_alerts(s, state=None if all_ else "firing", level=level, family=family)
    if as_json or as_csv:
        _export(ALERT_COLUMNS, [[getattr(r, c) for c in ALERT_COLUMNS] for r in rows], as_json, cfg.tz)
        return
    table = Table(title=f"{'all' if all_ else 'firing'} alerts: {len(rows)}", title_justify="left")
    for col in ("id", "级别", "状态", "自", "对象", "规则", "摘要", "确认"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r.id),
            level_name(r.max_level),
            r.state,
            _when(cfg, r.since),
            r.subject,
            r.rule,
            r.summary,
            r.acked_by or "",
        )
    console.print(table)


@alerts_app.command("show")
def alerts_show(alert_id: int, config: ConfigOpt = None) -> None:
    """One alert: the numbers behind it, its history and its notifications."""
    cfg = _load(config)

    try:
        with _db(cfg).session() as s:
            d = get_alert(s, alert_id)
    except AlertNotFound as exc:
        raise _fail(str(exc)) from None
    a = d.alert
    console.print(
        f"#{a.id} {level_name(a.max_level)} {a.subject} — {a.state}, "
        f"rule {a.rule}, since {_when(cfg, d.started_at)}" + (f", acked by {a.acked_by}" if a.acked_by else "")
    )
    console.print(a.summary)
    for k, v in d.facts:
        console.print(f"  {k}: {v}", highlight=False)
    for quote, url in d.evidence:
        console.print(f"  「{quote}」 {url}", highlight=False)
    events = Table(title="history", title_justify="left")
    for col in ("时间", "事件", "级别", "说明"):
        events.add_column(col)
    for e in d.events:
        events.add_row(_when(cfg, e.at), e.kind, e.level, e.detail or "")
    console.print(events)
    notes = Table(title="notifications", title_justify="left")
    for col in ("id", "通道", "类型", "状态", "尝试", "发送于", "错误"):
        notes.add_column(col)
    for n in d.notifications:
        notes.add_row(
            str(n.id), n.channel, n.kind, n.status, str(n.attempts), _when(cfg, n.sent_at), n.last_error or ""
        )
    console.print(notes)


@alerts_app.command("ack")
def alerts_ack(
    alert_id: int, author: Annotated[str, typer.Option("--by", help="Who takes care of it.")], config: ConfigOpt = None
) -> None:
    """Acknowledge an alert: no repeats until it escalates."""
    cfg = _load(config)

    try:
        with _db(cfg).session() as s:
            row = ack(s, alert_id, author)
    except (AlertNotFound, ValueError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"#{row.id} acknowledged by {row.acked_by}")


@alerts_app.command("silence")
def alerts_silence(
    matcher: Annotated[
        str, typer.Argument(help="An alert fingerprint, a subject (brand:蜜橙, product:12) or a family (price_drop).")
    ],
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d.")],
    author: Annotated[str, typer.Option("--by", help="Who silences it.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    config: ConfigOpt = None,
) -> None:
    """Silence matching alerts until the silence expires (they are recorded, not sent)."""
    cfg = _load(config)

    try:
        span = parse_duration(duration)
        if not isinstance(span, timedelta) or span.total_seconds() <= 0:
            raise ValueError(f"--for {duration!r}: expected a duration such as 30m, 2h or 1d")
        expires = datetime.now(UTC) + span
        with _db(cfg).session() as s:
            row = add_silence(s, matcher, author, reason, expires)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    console.print(f"silence #{row.id} on {row.matcher} until {_when(cfg, row.expires_at)} ({row.reason})")


@alerts_app.command("unsilence")
def alerts_unsilence(silence_id: int, config: ConfigOpt = None) -> None:
    """End a silence now."""
    cfg = _load(config)

    try:
        with _db(cfg).session() as s:
            row = unsilence(s, silence_id)
    except AlertNotFound as exc:
        raise _fail(str(exc)) from None
    console.print(f"silence #{row.id} on {row.matcher} ended")


@alerts_app.command("silences")
def alerts_silences(config: ConfigOpt = None) -> None:
    """Active silences."""
    cfg = _load(config)

    with _db(cfg).session() as s:
        rows = list_silences(s)
    for r in rows:
        console.print(f"#{r.id} {r.matcher} until {_when(cfg, r.expires_at)} by {r.author}: {r.reason}")
    if not rows:
        console.print("no active silences")


@alerts_app.command("evaluate")
def alerts_evaluate(
    dispatch: Annotated[bool, typer.Option(help="Also send what is due now.")] = True,
    config: ConfigOpt = None,
) -> None:
    """Evaluate every alert rule now (and send the notifications it queues)."""
    cfg = _load(config)
    from jingshao.alerts.service import (  # lazy: channels and httpx: a crawl run with --no-evaluate never loads them
        dispatch_notifications,
        run_evaluation,
    )

    _db(cfg).dispose()  # a clear error, not a traceback, when the database is unreachable
    report = run_evaluation(cfg)
    for line in report.lines():
        console.print(line, highlight=False)
    if dispatch and cfg.channels:
        console.print(f"dispatch: {dispatch_notifications(cfg) or 'nothing due'}")


_TRANSITION_NAMES = {"opened": "开启", "escalated": "升级", "deescalated": "降级", "resolved": "恢复"}


@alerts_app.command("backtest")
def alerts_backtest(
    from_: Annotated[
        str, typer.Option("--from", help="Start, ISO 8601 (2026-11-30T20:00; no offset: the configured time zone).")
    ],
    to: Annotated[str, typer.Option("--to", help="End, ISO 8601, included.")],
    step: Annotated[str, typer.Option(help="Time between evaluations: 30s, 10m, 1h.")] = "10m",
    brand: Annotated[str | None, typer.Option(help="Only this brand's crisis rules (no competitor rules).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Replay the crisis and competitor rules over stored history on a scratch alert state: nothing is
    sent and the live alerts are untouched (tune thresholds on your own data)."""
    cfg = _load(config)

    from jingshao.alerts.backtest import (  # lazy: channels and httpx: a crawl run with --no-evaluate never loads them
        BacktestError,
        backtest,
        parse_moment,
        parse_step,
        steps_between,
    )

    try:
        start = parse_moment(from_, cfg.tz, "--from")
        end = parse_moment(to, cfg.tz, "--to")
        span = parse_step(step)
        total = len(steps_between(start, end, span))
        if brand is not None and brand not in {b.name for b in cfg.brands}:
            names = ", ".join(b.name for b in cfg.brands) or "none"
            raise BacktestError(f"--brand {brand!r} is not a configured brand; configured: {names}")
    except BacktestError as exc:
        raise _fail(str(exc), 2) from None
    db = _db(cfg)
    bar = Progress(
        TextColumn("backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal or total < 50,
    )
    tenth = max(1, total // 10)

    def progress(done: int, _total: int) -> None:
        bar.update(task, completed=done)
        if bar.disable and total >= 500 and (done % tenth == 0 or done == total):  # a log, not a terminal
            err.print(f"backtest: {done}/{total} steps", highlight=False)

    try:
        with bar, display_zone(cfg.tz):
            task = bar.add_task("", total=total)
            events = backtest(cfg, db, start, end, span, brand, progress=progress)
    except BacktestError as exc:
        raise _fail(str(exc), 2) from None
    finally:
        db.dispose()
    if json_:
        for e in events:
            print(json.dumps(e.to_json(cfg.tz), ensure_ascii=False, default=str))
        return
    table = Table(
        title=f"回测 {_when(cfg, start)} → {_when(cfg, end)}，每 {step} 一次，共 {total} 次评估", title_justify="left"
    )
    for col in ("时间", "类型", "对象", "变化", "级别", "规则", "1小时负面/提及", "摘要"):
        table.add_column(col, overflow="fold")
    for e in events:
        counts = f"{e.negatives_1h} / {e.mentions_1h}" if e.negatives_1h is not None else "—"
        table.add_row(
            _when(cfg, e.at),
            "舆情危机" if e.kind == "crisis" else "竞品",
            e.subject,
            _TRANSITION_NAMES.get(e.transition, e.transition),
            level_name(e.level),
            e.rule,
            counts,
            e.detail if e.transition == "resolved" and e.detail else e.summary,
        )
    console.print(table)
    tally = "，".join(f"{name} {sum(e.transition == t for e in events)}" for t, name in _TRANSITION_NAMES.items())
    console.print(f"{len(events)} 次状态变化（{tally}）；未发送任何通知，线上告警状态未改动。")


@channels_app.command("test")
def channels_test(name: str, config: ConfigOpt = None) -> None:
    """Send a test message and report the platform's answer (a success un-breaks the channel)."""
    cfg = _load(config)
    from jingshao.alerts.service import (
        send_test_message,  # lazy: channels and httpx: a crawl run with --no-evaluate never loads them
    )

    try:
        result = send_test_message(cfg, name)
    except KeyError as exc:
        raise _fail(str(exc.args[0]), 2) from None
    console.print(f"{name}: {result.status} (code {result.code}) {result.detail}", highlight=False)
    if result.status != "sent":
        raise typer.Exit(1)


@channels_app.command("list")
def channels_list(config: ConfigOpt = None) -> None:
    """Configured channels with their health and pending notifications."""
    cfg = _load(config)

    with _db(cfg).session() as s:
        health = {h.name: h for h in channel_health(s, [c.name for c in cfg.channels])}
    for c in cfg.channels:
        h = health.get(c.name)
        console.print(
            f"{c.name} ({c.type}, levels {', '.join(c.levels)}): {h.state if h else 'ok'}"
            + (f" — {h.reason}" if h and h.reason else "")
            + (f", {h.pending} pending" if h else ""),
            highlight=False,
        )


nlp_app = typer.Typer(help="Sentiment model and text tools (no database needed).", no_args_is_help=True)
app.add_typer(nlp_app, name="nlp")


@nlp_app.command("train")
def nlp_train(
    data: Annotated[list[Path], typer.Option("--data", "--csv", help="Labelled CSV; repeat for several.")],
    out: Annotated[Path, typer.Option("--out", help="Model path to write (.npz plus .json beside it).")],
    kind: Annotated[
        str, typer.Option(help="review (columns label 1/0, review) or mention (labels pos/neu/neg).")
    ] = "review",
    text_column: Annotated[str, typer.Option(help="--kind mention: the column with the post's text.")] = "text",
    label_column: Annotated[str, typer.Option(help="--kind mention: the column with pos / neu / neg.")] = "label",
    with_reviews: Annotated[
        list[Path] | None,
        typer.Option(
            "--with-reviews",
            help="--kind mention: also learn complaints from labelled reviews (label 1/0, review); 2,000 a file.",
        ),
    ] = None,
    group_column: Annotated[
        str | None, typer.Option(help="--kind mention: report figures per value of this column.")
    ] = None,
    holdout: Annotated[bool, typer.Option(help="Keep the fixed 10% split out of training and report on it.")] = True,
) -> None:
    """Retrain a sentiment model: reviews (use with [nlp] model_path) or mentions ([nlp] mention_model_path)."""
    if kind == "mention":
        from jingshao.nlp.train_mention import train_mention_main  # lazy: training, numpy-heavy

        raise typer.Exit(
            train_mention_main(
                data,
                out,
                text_column=text_column,
                label_column=label_column,
                holdout=holdout,
                review_csvs=with_reviews or [],
                group_column=group_column,
            )
        )
    if kind == "tags":  # aspect / opinion span tagger: --data takes Zhijiang folders, DiaASQ .json, review .csv
        from jingshao.nlp.train_tags import train_tags_main  # lazy: training, numpy-heavy

        raise typer.Exit(train_tags_main(data, out, holdout=holdout))
    if kind != "review":
        raise _fail(f"--kind must be review, mention or tags, got {kind!r}", 2)

    raise typer.Exit(train_main(data, out, holdout=holdout))


def _read_texts(csv_path: Path | None, column: str | None) -> list[str]:
    if csv_path is None:
        return [line.rstrip("\n") for line in sys.stdin]

    try:
        with csv_path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not column or column not in (reader.fieldnames or []):
                raise _fail(f"{csv_path}: no column {column!r}; columns are: {', '.join(reader.fieldnames or [])}", 2)
            return [row[column] or "" for row in reader]
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{csv_path}: cannot read CSV: {exc}", 2) from None


@nlp_app.command("score")
def nlp_score(
    kind: Annotated[
        str, typer.Option(help="review (default) or mention (the crisis radar's pos/neu/neg model).")
    ] = "review",
    backend: Annotated[str, typer.Option(help="--kind review: linear (default) or snownlp.")] = "linear",
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Read texts from this CSV ...")] = None,
    column: Annotated[str | None, typer.Option(help="... from this column.")] = None,
    model: Annotated[Path | None, typer.Option(help="A retrained model of that kind.")] = None,
) -> None:
    """Score texts (one per line on stdin, or a CSV column): one JSON object per line.

    Each line has the text, label (pos, neu or neg) and the class probabilities. For --kind mention the
    label is exactly what the crisis rules count (neg when P(neg) reaches the model's calibrated
    neg_threshold). For reviews: pos at P(pos) >= 0.65, neg at <= 0.35, else neu.
    """

    texts = _read_texts(csv_path, column)
    if kind == "mention":
        from jingshao.nlp.mention import MentionModelError, get_mention_scorer  # lazy: the mention model, on use

        try:
            mention_scorer = get_mention_scorer(model)
        except (MentionModelError, OSError) as exc:
            raise _fail(str(exc), 2) from None
        for start in range(0, len(texts), 1000):
            chunk = texts[start : start + 1000]
            for text, sc in zip(chunk, mention_scorer.classify(chunk), strict=True):
                d = sc.to_dict()
                print(json.dumps({"text": text, "label": d.pop("label"), "probabilities": d}, ensure_ascii=False))
        return
    if kind != "review":
        raise _fail(f"--kind must be review or mention, got {kind!r}", 2)

    try:
        scorer = get_scorer(backend, model)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc), 2) from None
    for start in range(0, len(texts), 1000):
        chunk = texts[start : start + 1000]
        for text, p in zip(chunk, scorer.score(chunk), strict=True):
            label = label_for(float(p))
            print(
                json.dumps(
                    {
                        "text": text,
                        "label": "neu" if label == "neutral" else label,
                        "positive": round(float(p), 4),
                        "probabilities": {"pos": round(float(p), 4), "neg": round(1 - float(p), 4)},
                    },
                    ensure_ascii=False,
                )
            )


@nlp_app.command("tags")
def nlp_tags(
    category: Annotated[
        str | None,
        typer.Option(
            help="Lexicon hints: apparel, electronics, food, beauty, home, "
            "general. Default: inferred from the texts given."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="auto (lexicon + open-vocabulary tagger), lexicon or model.")] = "auto",
    model: Annotated[Path | None, typer.Option(help="A retrained tagger (jingshao nlp train --kind tags).")] = None,
) -> None:
    """Preference tags of texts (one per line on stdin): one JSON object per line.

    Without --category the category is inferred from all the texts given and named on stderr.
    """

    from jingshao.nlp.aspects import TaggerModelError, get_span_tagger  # lazy: for this command only

    if category is not None and category not in CATEGORIES:
        raise _fail(f"unknown category {category!r}; choose one of {', '.join(CATEGORIES)}", 2)
    if method not in METHODS:
        raise _fail(f"unknown --method {method!r}; choose one of {', '.join(METHODS)}", 2)
    model_path = str(model) if model else None
    if method != "lexicon":
        try:
            get_span_tagger(model_path)
        except TaggerModelError as exc:
            raise _fail(str(exc), 2) from None
    texts = [line.rstrip("\n") for line in sys.stdin]
    if category is None:
        category = infer_category(texts)
        print(f"category: {category} (inferred from {len(texts)} texts)", file=sys.stderr)
    for text in texts:
        tags = extract_tags(text, category, method=method, model_path=model_path)
        print(json.dumps({"text": text, "tags": [t.to_dict() for t in tags]}, ensure_ascii=False))


@app.command()
def adlaw(
    text: Annotated[list[str], typer.Argument(help="Copy to check (- reads stdin).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Find absolute and forbidden advertising claims (广告法极限词) in copy.

    With --config (or $JINGSHAO_CONFIG), the config's [nlp] adlaw_extra and adlaw_allow apply too. The 2023
    enforcement guide's exemptions (self-comparison, consumption tips, standard grades, trademarks and awards)
    apply unless [nlp.adlaw_exemptions] switches them off.
    """
    from jingshao.nlp.adlaw_exemptions import AdlawExemptions, apply_exemptions

    extra: list[str] = []
    allow: list[str] = []
    exemptions = AdlawExemptions()  # the 2023 guide's exemptions (issue 12); a config may switch them
    if config or os.environ.get("JINGSHAO_CONFIG"):
        nlp_cfg = _load(config).nlp
        extra, allow, exemptions = nlp_cfg.adlaw_extra, nlp_cfg.adlaw_allow, nlp_cfg.adlaw_exemptions
    body = sys.stdin.read() if text == ["-"] else " ".join(text)
    hits = apply_exemptions(body, scan_adlaw(body, extra_words=extra, allow=allow), exemptions)
    if as_json:
        print(
            json.dumps(
                [
                    {"word": h.word, "category": h.category, "start": h.start, "end": h.end, "context": h.context}
                    for h in hits
                ],
                ensure_ascii=False,
            )
        )
        return
    if not hits:
        console.print("未发现广告法违禁词 (no ad-law words found)")
        return
    table = Table(title=f"广告法违禁词 {len(hits)} 处")
    for col in ("词", "类别", "位置", "上下文"):
        table.add_column(col)
    for h in hits:
        table.add_row(h.word, h.category or "", f"{h.start}-{h.end}", h.context)
    console.print(table)


@app.command()
def tags(
    competitor: Annotated[str | None, typer.Option(help="Only this competitor.")] = None,
    product: Annotated[str | None, typer.Option(help="Only this product (id, URL or part of its name).")] = None,
    top: Annotated[int, typer.Option(help="Pros and cons to show per product.")] = 5,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="The mind map per competitor and product as JSON: "
            "aspects, counts, positive / negative share, top opinions, examples, this week vs last.",
        ),
    ] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="The same mind map as CSV, one row per competitor, product and aspect.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """What buyers love and hate: top pros and cons per product, from stored reviews."""
    cfg = _load(config)

    db = _db(cfg)
    with db.session() as s:
        rows = reviews_for(s, competitor=competitor, product=product)
    if not rows:
        raise _fail("no reviews stored for that selection: run `jingshao crawl reviews` first")
    groups: dict[tuple[str, str], list] = {}
    for r in rows:
        groups.setdefault((r.competitor, f"#{r.product_id} {r.product}"), []).append(r)
    if product is None:  # also one line per competitor across its products
        for comp in sorted({r.competitor for r in rows}):
            groups[(comp, "全部商品 (all products)")] = [r for r in rows if r.competitor == comp]
    if as_json or as_csv:
        from jingshao.nlp.mindmap import MindMapReview, build_mind_map  # lazy: for this command only

        maps = [
            build_mind_map(
                (MindMapReview(r.text, [tag_from_row(t) for t in (r.tags or [])], r.at) for r in items),
                competitor=comp,
                product=None if name.startswith("全部商品") else name,
                top=top,
            )
            for (comp, name), items in groups.items()
        ]
        if as_json:
            print(json.dumps([m.to_dict() for m in maps], ensure_ascii=False, indent=1))
        else:
            from jingshao.nlp.mindmap import CSV_COLUMNS, csv_rows  # lazy: for this command only

            writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for m in maps:
                writer.writerows(csv_rows(m))
        return
    for (comp, name), items in groups.items():
        summary = aggregate_tags(
            (r.text, [tag_from_row(t) for t in (r.tags or [])], 0.5 if r.sentiment is None else r.sentiment)
            for r in items
        )
        scored = [r.sentiment for r in items if r.sentiment is not None]
        mean = sum(scored) / len(scored) if scored else float("nan")
        table = Table(title=f"{comp} · {name} — {len(items)} 条评价, 平均好评概率 {mean:.2f}", title_justify="left")
        for col in ("", "标签", "评价数", "占比", "平均情感", "例句"):
            table.add_column(col)
        for label, pol in (("优点", "pos"), ("缺点", "neg")):
            for t in [t for t in summary if t.polarity == pol][:top]:
                table.add_row(
                    label,
                    f"{t.aspect}-{t.opinion}",
                    str(t.reviews),
                    f"{t.share:.1%}",
                    f"{t.mean_sentiment:.2f}",
                    " / ".join(t.examples),
                )
        console.print(table)


@app.command()
def analyze(
    rescore: Annotated[
        bool,
        typer.Option(
            help="Re-score every review and mention and re-scan all copy (after a "
            "model or word-list change); default: only what was never scored."
        ),
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Back-fill sentiment, tags and ad-law hits for stored reviews, mentions and observations."""
    cfg = _load(config)
    from jingshao.crawlers.enrichment import Enricher  # lazy: loads the NLP models on use

    db = _db(cfg)
    enricher = Enricher(cfg.nlp)
    chunk_size = 500  # one short transaction per chunk: crawls keep writing meanwhile
    with db.session() as s:
        todo = queries.work(s, rescore=rescore)
    rows, mentions, observation_ids = todo.reviews, todo.mentions, todo.observation_ids
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    scanned = hits = 0
    with Progress(*columns, console=err) as bar:
        task = bar.add_task("评价 reviews", total=len(rows))
        for start in range(0, len(rows), chunk_size):
            chunk = rows[start : start + chunk_size]
            cols = enricher.review_columns([r.text for r in chunk], [r.category for r in chunk])
            with db.session() as s:
                update_review_scores(s, [{"id": r.id, **c} for r, c in zip(chunk, cols, strict=True)])
            bar.update(task, advance=len(chunk))
        task = bar.add_task("舆情 mentions", total=len(mentions))
        for start in range(0, len(mentions), chunk_size):
            mchunk = mentions[start : start + chunk_size]
            mcols = enricher.mention_columns([m.scored_text for m in mchunk])
            with db.session() as s:
                queries.update_mention_scores(s, [(m.id, c) for m, c in zip(mchunk, mcols, strict=True)])
            bar.update(task, advance=len(mchunk))
        task = bar.add_task("文案 copy (ad-law)", total=len(observation_ids))
        for start in range(0, len(observation_ids), chunk_size):
            with db.session() as s:
                for obs in queries.observation_copy(s, observation_ids[start : start + chunk_size]):
                    found = enricher.adlaw_hits({"title": obs.title, "promo": obs.promo})
                    replace_adlaw_hits(s, obs.id, obs.product_id, found)
                    scanned += 1
                    hits += len(found)
            bar.update(task, advance=min(chunk_size, len(observation_ids) - start))
    console.print(
        f"已分析 analyzed: {len(rows)} 条评价 reviews, {len(mentions)} 条舆情 mentions"
        + (f"；重新扫描 re-scanned: {scanned} 条文案 observations, {hits} 处广告法用语 ad-law hits" if rescore else ""),
        highlight=False,
    )


@app.command()
def report(
    date_: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Report day YYYY-MM-DD (default: yesterday if it has data, else today so far; the output says which).",
        ),
    ] = None,
    to: Annotated[str | None, typer.Option(help="Last day of a range (inclusive).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the HTML (default: [report] out_dir).")] = None,
    send: Annotated[bool, typer.Option(help="Mail it (once per day and recipient list).")] = False,
    config: ConfigOpt = None,
) -> None:
    """Build the daily competitor report (HTML saved to disk), and mail it with --send."""
    cfg = _load(config)

    from jingshao.reports.service import daily_report  # lazy: matplotlib and Jinja, for the report commands only

    try:
        d_from = date.fromisoformat(date_) if date_ else None
        d_to = date.fromisoformat(to) if to else None
    except ValueError as exc:
        raise _fail(f"bad date: {exc} (expected YYYY-MM-DD)", 2) from None
    try:
        if d_from is None and d_to is None:
            from jingshao.reports.service import (
                interactive_report_day,  # lazy: matplotlib and Jinja, for the report commands only
            )

            d_from, why = interactive_report_day(cfg)
            console.print(f"日报 report day: {why}", highlight=False)
        res = daily_report(cfg, send=send, date_from=d_from, date_to=d_to, out_dir=out)
    except (ValueError, DatabaseError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"日报 report: {res['html']} ({res['kb']} KB)" + (f"; 邮件 mail: {res['send']}" if "send" in res else ""),
        highlight=False,
    )
    if res.get("_outcome") == "failed":
        err.print(f"[red]error[/] {escape(str(res.get('error')))}", highlight=False)
        raise typer.Exit(1)


@app.command()
def worker(
    spiders: Annotated[
        str, typer.Option(help="Comma-separated: products, reviews, mentions.")
    ] = "products,reviews,mentions",
    config: ConfigOpt = None,
) -> None:
    """A crawl worker: takes queued crawl requests from Redis (redis_url) and stores to the shared
    database; run any number on any number of machines (see README "Scaling out")."""
    cfg = _load(config)
    from jingshao.crawlers.worker import worker_main  # lazy: Scrapy and the optional [redis] extra

    _db(cfg).dispose()  # a clear error, not a traceback, when the database is unreachable
    raise typer.Exit(worker_main(cfg, [s.strip() for s in spiders.split(",") if s.strip()]))


HostOpt = Annotated[str | None, typer.Option("--host", help="Address to listen on (default: web.host, 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port (default: web.port, 8080).")]


def _web_server(cfg: Config, host: str | None, port: int | None):
    from jingshao.web.server import UnsafeBindError, make_server  # lazy: FastAPI and uvicorn, for serve/users only

    try:
        return make_server(cfg, host or cfg.web.host, port if port is not None else cfg.web.port)
    except UnsafeBindError as exc:
        raise _fail(str(exc), 2) from None


@app.command()
def run(
    config: ConfigOpt = None,
    web: Annotated[bool, typer.Option("--web", help="Also serve the web dashboard and API.")] = False,
    host: HostOpt = None,
    port: PortOpt = None,
) -> None:
    """Run the scheduler in the foreground: crawls, alert evaluation, notifications, the daily report.

    Stop it with Ctrl-C or SIGTERM: running jobs finish, running crawls stop cleanly.
    """
    cfg = _load(config)

    from jingshao.scheduler import planned_jobs, run_scheduler  # lazy: APScheduler, for `jingshao run` only

    # The startup summary and one line per job run go to stdout; the log (stderr) keeps warnings only
    # (APScheduler's INFO lines repeat what the summary says).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _db(cfg).dispose()  # migrate before the job store touches the database
    if not planned_jobs(cfg) and not web:
        raise _fail(f"{cfg.source}: no job to run (no products, mention sources or report configured)", 2)
    server = None
    if web:
        from jingshao.web.server import serve_in_thread  # lazy: FastAPI and uvicorn, for serve/users only

        server = _web_server(cfg, host, port)
        serve_in_thread(server)
        console.print(f"看板 web: http://{server.config.host}:{server.config.port}/", highlight=False)
    try:
        run_scheduler(cfg, str(cfg.source), out=lambda line: console.print(line, highlight=False))
    finally:
        if server is not None:
            server.should_exit = True


@app.command()
def serve(config: ConfigOpt = None, host: HostOpt = None, port: PortOpt = None) -> None:
    """Serve the web dashboard (看板) and the REST API (/api/v1, docs at /api/docs).

    Binds 127.0.0.1:8080 by default; another address needs a user or token (`jingshao users add`).
    """
    cfg = _load(config)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _db(cfg).dispose()
    server = _web_server(cfg, host, port)
    console.print(f"看板 web: http://{server.config.host}:{server.config.port}/  (Ctrl-C stops)", highlight=False)
    server.run()


users_app = typer.Typer(help="Web dashboard users and API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
RoleOpt = Annotated[str, typer.Option("--role", help="admin (edits) or viewer (reads).")]


def _role(role: str) -> str:
    if role not in ("admin", "viewer"):
        raise _fail(f"--role must be admin or viewer, not {role!r}", 2)
    return role


@users_app.command("add")
def users_add(
    name: str,
    role: RoleOpt = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin instead of prompting.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Add a user (or set a user's password and role); the password is stored as an scrypt hash."""
    cfg = _load(config)
    _role(role)

    from jingshao.web.auth import hash_password  # lazy: FastAPI and uvicorn, for serve/users only

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("密码 password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise _fail("the password must have at least 8 characters", 2)
    if any(u.name == name for u in cfg.web.users):
        raise _fail(f"user {name!r} is defined in {cfg.source} ([[web.users]]); change it there", 2)
    db = _db(cfg)
    with db.session() as s:
        row = s.scalar(select(WebUser).where(WebUser.name == name))
        if row is None:
            s.add(WebUser(name=name, role=role, password_hash=hash_password(password)))
            what = "added"
        else:
            row.role, row.password_hash, row.disabled_at = role, hash_password(password), None
            what = "updated"
    console.print(f"用户 {name} ({role}) {what}", highlight=False)


@users_app.command("remove")
def users_remove(name: str, config: ConfigOpt = None) -> None:
    """Remove a user added with `users add` (their sessions end)."""
    cfg = _load(config)

    with _db(cfg).session() as s:
        gone = s.execute(delete(WebUser).where(WebUser.name == name)).rowcount
        s.execute(delete(WebSession).where(WebSession.user_name == name))
    if not gone:
        raise _fail(f"no user {name!r} in the database")
    console.print(f"用户 {name} removed", highlight=False)


@users_app.command("list")
def users_list(config: ConfigOpt = None) -> None:
    """Users and API tokens, from the config file and the database (never their secrets)."""
    cfg = _load(config)

    table = Table("类型 kind", "名称 name", "角色 role", "来源 from", box=None)
    for u in cfg.web.users:
        table.add_row("user", u.name, u.role, "config")
    for t in cfg.web.tokens:
        table.add_row("token", t.name, t.role, "config")
    with _db(cfg).session() as s:
        for row in s.scalars(select(WebUser).order_by(WebUser.name)):
            table.add_row("user", row.name, row.role, "database" + (" (disabled)" if row.disabled_at else ""))
        for tok in s.scalars(select(ApiToken).order_by(ApiToken.name)):
            table.add_row("token", tok.name, tok.role, "database" + (" (revoked)" if tok.revoked_at else ""))
    console.print(table)


@users_app.command("token")
def users_token(name: str, role: RoleOpt = "viewer", config: ConfigOpt = None) -> None:
    """Create an API token (printed once; only its SHA-256 is stored). Use: Authorization: Bearer TOKEN."""
    cfg = _load(config)
    _role(role)

    from jingshao.web.auth import new_token, token_digest  # lazy: FastAPI and uvicorn, for serve/users only

    token = new_token()
    with _db(cfg).session() as s:
        if s.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise _fail(f"a token named {name!r} exists; revoke it first (`jingshao users revoke {name}`)", 2)
        s.add(ApiToken(name=name, role=role, token_hash=token_digest(token)))
    # The one place a token is shown: on stdout, to the person who created it.
    sys.stdout.write(token + "\n")


@users_app.command("revoke")
def users_revoke(name: str, config: ConfigOpt = None) -> None:
    """Revoke an API token created with `users token`."""
    cfg = _load(config)

    with _db(cfg).session() as s:
        tok = s.scalar(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)))
        if tok is None:
            raise _fail(f"no active token {name!r}")
        tok.revoked_at = datetime.now(UTC)
    console.print(f"token {name} revoked", highlight=False)


@users_app.command("hash")
def users_hash() -> None:
    """Print an scrypt hash of a password read from stdin, for password_hash in [[web.users]]."""
    from jingshao.web.auth import hash_password  # lazy: FastAPI and uvicorn, for serve/users only

    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise _fail("the password must have at least 8 characters", 2)
    sys.stdout.write(hash_password(password) + "\n")


@app.command()
def status(config: ConfigOpt = None) -> None:
    """Next run of each job, last outcomes, failing sources, broken channels, outbox depth."""
    cfg = _load(config)

    from jingshao.scheduler import next_runs, planned_jobs  # lazy: APScheduler, for `jingshao run` only

    db = _db(cfg)
    tz = cfg.tz
    nxt = next_runs(cfg)
    plan = planned_jobs(cfg)
    with db.session() as s:
        # only sources that failed in the last 24 h and have not succeeded since
        st = snapshot(s, set(plan) | set(nxt), datetime.now(UTC) - timedelta(hours=24))
    table = Table(title="任务 jobs", title_justify="left")
    for col in ("任务 job", "计划 schedule", "下次运行 next run", "上次运行 last run", "结果 outcome", "详情 detail"):
        table.add_column(col)
    for job in sorted(set(plan) | set(nxt)):
        r = st.last_runs.get(job)
        n = nxt.get(job)
        table.add_row(
            job,
            plan.get(job, "（不在配置中 not in config）"),
            n.astimezone(tz).strftime("%m-%d %H:%M:%S") if n else "—",
            r.started_at.astimezone(tz).strftime("%m-%d %H:%M:%S") if r else "—",
            _OUTCOMES.get(r.outcome, r.outcome) if r else "—",
            (r.error or (str(r.counts) if r.counts else ""))[:60] if r else "",
        )
    console.print(table)

    def say(text: str) -> None:
        console.print(text, highlight=False)

    if not nxt:
        say("调度器尚未运行 the scheduler has not run yet（用 `jingshao run` 启动）")
    say(
        f"失败来源 failing sources（24 小时内，仍在失败 still failing）: {len(st.failing)}"
        + "".join(f"\n  {f.count}× {escape(f.url)} — {escape(f.reason)}" for f in st.failing)
    )
    if st.competitor_outcomes:
        t = _competitor_outcome_table(st.competitor_outcomes)
        t.title = "最近一次抓取 latest products crawl, by competitor"
        console.print(t)
    now = datetime.now(UTC)
    for d in st.backoff:
        paused = (
            f"暂停至 paused until {d.paused_until.astimezone(tz).strftime('%m-%d %H:%M:%S')}"
            if d.paused_until is not None and d.paused(now)
            else "未暂停 not paused"
        )
        say(
            f"限速 back-off {d.domain}: 每 {d.delay:.1f} 秒一次 one request every {d.delay:.1f} s, "
            f"连续被拒 {d.blocks_in_row} blocked in a row, {paused}" + (f" — {d.last_reason}" if d.last_reason else "")
        )
    if st.cookie_jars:
        console.print(_cookie_table(st.cookie_jars, tz))
        for h in st.cookie_jars:
            if h.status != "ok":
                say(f"Cookie 已过期 cookies expired: {h.scope} — {h.refresh}")
    say(
        f"故障通道 broken channels: {len(st.broken)}"
        + "".join(f"\n  {escape(b.name)}: {escape(b.reason or '')}" for b in st.broken)
    )
    say(
        f"待发通知 outbox: {sum(o.count for o in st.outbox)} 条待发 pending"
        + "".join(f"\n  {escape(o.channel)}: {o.count} 条待发" for o in st.outbox)
    )
    say(
        f"暂存通知 parked notifications: {sum(p.count for p in st.parked)}"
        + "".join(
            f"\n  {escape(p.channel)}: {p.count} 条暂存，最早生成于 {timestamp(p.since, tz)}"
            f"（通道恢复后按顺序补发；`jingshao channels test {escape(p.channel)}`）"
            for p in st.parked
        )
    )
    u = st.untimed
    say(
        f"时间无法识别 unreadable time: {u.unreadable_mentions} 条舆情 mentions, {u.unreadable_reviews} 条评价 reviews"
        "（已保存、不带时间：不计入任何危机窗口）"
        + (
            f"\n  来源未给出时间的舆情 mentions whose source gave no time: {u.mentions_without_time}"
            if u.mentions_without_time
            else ""
        )
    )
    from jingshao.crawlers.distributed import redis_url_of  # lazy: the optional [redis] extra

    redis_url = redis_url_of(cfg)
    if redis_url:
        from jingshao.crawlers.distributed import queue_status, redis_client  # lazy: the optional [redis] extra

        try:
            say(f"Redis 队列 redis queue: {queue_status(redis_client(redis_url))}")
        except Exception as exc:
            say(f"Redis 队列 redis queue: 无法连接 unreachable（{type(exc).__name__}）")
    expired_jars = any(h.status != "ok" for h in st.cookie_jars)
    if st.broken or st.parked or expired_jars:  # exit codes: see README "jingshao status"
        raise typer.Exit(1)


_OUTCOMES = {"ok": "成功 ok", "failed": "失败 failed", "timeout": "超时 timeout", "running": "运行中 running"}


@app.command()
def demo(
    workdir: Annotated[
        Path | None, typer.Option(help="Keep the demo database and config here (default: a temporary folder).")
    ] = None,
    browser: Annotated[bool, typer.Option(help="Include the JavaScript (render = true) pages.")] = True,
) -> None:
    """Run the whole job on the bundled demo shop (127.0.0.1 only, no network needed)."""
    from jingshao.demo.runner import DemoFailed, run_demo  # lazy: the demo servers, for `jingshao demo` only

    try:
        run_demo(workdir or Path(tempfile.mkdtemp(prefix="jingshao-demo-")), browser=browser, console=console, err=err)
    except DemoFailed as exc:
        raise _fail(str(exc)) from None


cookies_app = typer.Typer(help="Competitor cookies: check and refresh (issue 12).", no_args_is_help=True)
app.add_typer(cookies_app, name="cookies")


def _cookie_table(rows, tz) -> Table:
    table = Table(title="cookies", title_justify="left")
    for col in ("竞品 scope", "来源 source", "最早过期 expires", "状态 status", "更新方法 refresh"):
        table.add_column(col)
    for h in rows:
        expires = h.expires_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if h.expires_at else "会话 session"
        state = "有效 ok" if h.status == "ok" else f"已失效 expired（{h.reason or ''}）"
        table.add_row(
            escape(h.scope),
            escape(h.source),
            expires,
            escape(state),
            escape(h.refresh or "") if h.status != "ok" else "—",
        )
    return table


@cookies_app.command("check")
def cookies_check(config: ConfigOpt = None) -> None:
    """Read every competitor's cookies (files, env variables), record their expiry; a refreshed jar is ok again.

    Exit codes: 0 all readable and none expired, 1 some expired (by date or a login wall), 2 a source cannot be read."""
    cfg = _load(config)

    try:
        jars = load_jars(cfg)
    except CookieError as exc:
        raise _fail(str(exc), 2) from None
    if not jars:
        console.print("no competitor has [competitors.cookies] configured")
        return
    db = _db(cfg)
    with db.session() as s:
        sync_jars(s, jars)
    with db.session() as s:
        health = jar_health(s)
    console.print(_cookie_table(health, cfg.tz))
    now = datetime.now(UTC)
    for jar in jars:
        console.print(
            f"{jar.scope}: {len(jar.cookies)} cookies from {jar.source} for {', '.join(jar.hosts)}", highlight=False
        )
    if any(h.status != "ok" or (h.expires_at and h.expires_at <= now) for h in health):
        raise typer.Exit(1)


evidence_app = typer.Typer(help="Evidence: the pages behind changing observations (issue 12).", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")


def _since(cfg: Config, since: str | None):

    if not since:
        return None
    try:
        when = _dt.fromisoformat(since)
    except ValueError:
        raise _fail(f"--since {since!r} is not an ISO 8601 time (e.g. 2026-12-01T08:00)", 2) from None
    return when.replace(tzinfo=cfg.tz) if when.tzinfo is None else when


@evidence_app.command("export")
def evidence_export(
    product: Annotated[str, typer.Argument(help="jingshao product id, the shop's item id, a URL or part of a name")],
    since: Annotated[
        str | None, typer.Option("--since", help="only evidence captured from this time (ISO 8601)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="the zip to write (default: evidence-<id>-<time>.zip)")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Write a zip of the product's snapshots, screenshots, observations (JSON, with times) and SHA-256 sums,
    for a 12315 or platform complaint."""
    cfg = _load(config)

    db = _db(cfg)
    with db.session() as s:
        found = find_products(s, product)
        if not found:
            raise _fail(f"no product matches {product!r} (try `jingshao prices`)")
        if len(found) > 1:
            names = ", ".join(f"#{p.id} {p.name or p.url}" for p in found[:5])
            raise _fail(f"{product!r} matches {len(found)} products ({names}); give its id")
        rows = evidence_for(s, [found[0].id], _since(cfg, since))
        if not rows:
            raise _fail(
                f"no evidence stored for #{found[0].id} {found[0].name or found[0].url}"
                + (f" since {since}" if since else "")
            )
        stamp = datetime.now(UTC).astimezone(cfg.tz).strftime("%Y%m%d-%H%M%S")
        target = out or Path(f"evidence-{found[0].id}-{stamp}.zip")
        sums = export_zip(s, rows, target)
    shots = sum(1 for name in sums if name.startswith("screenshots/"))
    snaps = sum(1 for name in sums if name.startswith("snapshots/"))
    console.print(
        f"证据 evidence: {target} — {len(rows)} 条观测 observations, {snaps} 个页面快照 snapshots, "
        f"{shots} 张截图 screenshots, SHA256SUMS 校验 (sha256sum -c)",
        highlight=False,
    )


audit_app = typer.Typer(help="Compliance audits of competitors' prices (issue 12).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("prices")
def audit_prices_cmd(
    competitor: Annotated[str | None, typer.Option("--competitor", help="only this competitor")] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="findings of the last N days")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per finding")] = False,
    config: ConfigOpt = None,
) -> None:
    """Price-compliance risks after 《明码标价和禁止价格欺诈规定》 Articles 16, 17, 19 and 20, with the prices and
    snapshots behind each. Displayed prices, not transactions: each finding is a risk to check, never a verdict."""
    cfg = _load(config)
    import json as _json

    from jingshao.alerts.audit import audit_prices

    db = _db(cfg)
    with db.session() as s:
        findings = audit_prices(s, competitor=competitor, days=days)
    if as_json:
        for f in findings:
            row = {
                "article": f.article,
                "headline": f.headline,
                "product_id": f.product_id,
                "product": f.product,
                "competitor": f.competitor,
                "at": f.at.isoformat(),
                "summary": f.summary,
                "facts": f.facts,
                "snapshots": f.snapshots,
            }
            print(_json.dumps(row, ensure_ascii=False))
        return
    if not findings:
        console.print(f"近 {days} 天未发现价格合规风险 no price-compliance risks in the last {days} days")
        return
    for f in findings:
        console.print(
            f"{escape(f.headline)}\n  {escape(f.competitor)} / {escape(f.product)} (#{f.product_id}) "
            f"{f.at.astimezone(cfg.tz).strftime('%Y-%m-%d %H:%M')}: {escape(f.summary)}",
            highlight=False,
        )
        for label, value in f.facts:
            console.print(f"    {escape(label)}：{escape(value)}", highlight=False)
        if f.snapshots:
            console.print(
                f"    页面快照 snapshots：{', '.join(sha[:12] for sha in f.snapshots)}"
                f"（jingshao evidence export {f.product_id}）",
                highlight=False,
            )
    console.print(f"{len(findings)} 条风险提示 findings（依据页面展示价格，仅提示风险，不构成违法认定）")


# Help text quotes config keys ("[[mention_sources]]", "[report] out_dir"): Rich markup would eat them.
# Plain help keeps every bracket as written.
for _group in [v for v in globals().values() if isinstance(v, typer.Typer)]:
    _group.rich_markup_mode = None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
