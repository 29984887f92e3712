"""Scheduling: which job runs when (APScheduler 3, jobs persisted in the product's database).

Each crawl runs in a child process (`jingshao crawl SPIDER`): Twisted's reactor cannot restart,
and a browser's memory is returned to the system when the child exits, so the long-lived
scheduler stays small. Jobs are module-level functions taking the config path, so the
SQLAlchemy job store can persist them; every run is recorded in `job_runs`.

`coalesce=True`, `max_instances=1` and a misfire grace time of minutes (APScheduler's default is
one second) mean a scheduler that was down runs each missed job once when it comes back, and a
slow crawl never overlaps itself. A restart keeps the schedule; nothing already sent is sent
again (the notification outbox and the report ledger know what went out).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import select, update

from jingshao.alerts.service import dispatch_notifications, evaluate_alerts
from jingshao.config import Config, load_config
from jingshao.core.redaction import redact, redact_value
from jingshao.core.triggers import is_off, parse_trigger
from jingshao.crawlers.catalog import web_watched
from jingshao.crawlers.registry import SPIDERS as SPIDER_TABLE
from jingshao.reports.service import daily_report, report_enabled, unsent_report_date
from jingshao.storage.db import DatabaseError, make_engine, open_database
from jingshao.storage.models import CrawlRun, JobRun, utcnow

log = logging.getLogger("jingshao.scheduler")

#: The spider names, from the spider table the crawl runner uses too (crawlers.registry).
SPIDERS = tuple(SPIDER_TABLE)


# ---------------------------------------------------------------- crawls as child processes


@dataclass(frozen=True)
class ChildResult:
    spider: str
    returncode: int | None  # None: stopped after the timeout or at shutdown
    seconds: float
    output_tail: str
    stopped: bool = False  # stopped by the scheduler's shutdown (not a failure of the crawl)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


_children: set[subprocess.Popen] = set()
_stopping: set[int] = set()  # pids the scheduler asked to stop
_children_lock = threading.Lock()


def crawl_command(spider: str, config_path: Path, *, evaluate: bool = True) -> list[str]:
    """The child's command line. ``evaluate=False``: the crawl does not evaluate the alert rules itself
    (a caller that evaluates at its own clock, like the demo's crisis drill)."""
    if spider not in SPIDERS:
        raise ValueError(f"unknown spider {spider!r}; expected one of {', '.join(SPIDERS)}")
    return [
        sys.executable,
        "-m",
        "jingshao.cli",
        "crawl",
        spider,
        "--config",
        str(config_path),
        "--no-progress",
        *(() if evaluate else ("--no-evaluate",)),
    ]


def _stop_child(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM (Scrapy closes the spider; every page already stored stays), then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_crawl_child(
    spider: str, config_path: Path, *, timeout: float = 3600, capture: bool = True, evaluate: bool = True
) -> ChildResult:
    """Run one crawl as a child process; past `timeout` it is stopped.

    The crawl writes each page in its own transaction, so a child stopped at any point leaves a
    consistent database; its run row is marked interrupted by the next crawl.
    """
    start = time.monotonic()
    # The child stops when this process dies (JINGSHAO_PARENT_PID: prctl PR_SET_PDEATHSIG and a watchdog),
    # and its output never blocks it, so a scheduler killed with -9 leaves no crawl behind.
    proc = subprocess.Popen(
        crawl_command(spider, config_path, evaluate=evaluate),
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        text=True,
        errors="replace",
        env={**os.environ, "JINGSHAO_PARENT_PID": str(os.getpid())},
        start_new_session=True,
    )
    with _children_lock:
        _children.add(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
        if code is not None and code < 0:  # killed by a signal (our shutdown)
            code = None
    except subprocess.TimeoutExpired:
        _stop_child(proc)
        out, _ = proc.communicate()
        code = None
    finally:
        with _children_lock:
            _children.discard(proc)
            stopped = proc.pid in _stopping
            _stopping.discard(proc.pid)
    return ChildResult(spider, None if stopped else code, time.monotonic() - start, (out or "")[-4000:], stopped)


def stop_children() -> None:
    with _children_lock:
        procs = list(_children)
        _stopping.update(p.pid for p in procs)
    for proc in procs:
        _stop_child(proc)


# ---------------------------------------------------------------- jobs


def _config(config_path: str) -> Config:
    return load_config(config_path)


def _database(cfg: Config):

    return open_database(cfg.database_url)


def record_job(job: str, config_path: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run fn, recording start, end, outcome, counts and error in job_runs."""

    db = _database(_config(config_path))
    with db.session() as s:
        run = JobRun(job=job, outcome="running")
        s.add(run)
        s.flush()
        run_id = run.id
    outcome, counts, error = "failed", None, None
    try:
        counts = fn()
        outcome = counts.pop("_outcome", "ok") if isinstance(counts, dict) else "ok"
        return counts or {}
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}")
        log.exception("job %s failed", job)
        raise
    finally:
        with db.session() as s:
            s.execute(
                update(JobRun)
                .where(JobRun.id == run_id)
                .values(finished_at=utcnow(), outcome=outcome, counts=redact_value(counts), error=error)
            )
        db.dispose()


def crawl_job(config_path: str, spider: str) -> dict[str, Any]:
    """Run a crawl in a child process, or, with redis_url set, queue its requests for the workers."""
    cfg = _config(config_path)
    from jingshao.crawlers.distributed import enqueue_crawl, redis_url_of  # lazy: redis is the optional [redis] extra

    if redis_url_of(cfg):
        return record_job(f"crawl_{spider}", config_path, lambda: {"queued": enqueue_crawl(cfg, spider)})

    def run() -> dict[str, Any]:
        res = run_crawl_child(spider, Path(config_path), timeout=cfg.schedule.crawl_timeout_minutes * 60)
        out: dict[str, Any] = {"seconds": round(res.seconds, 1), "exit": res.returncode}
        if res.stopped:
            out["_outcome"] = "stopped"
        elif res.returncode is None:
            out["_outcome"] = "timeout"
        elif res.returncode == 1:  # some pages failed (each with its reason in the crawl's output)
            out["_outcome"] = "partial"
            out["failed"] = _failed_lines(res.output_tail)
        elif res.returncode != 0:
            raise RuntimeError(f"crawl {spider} exited {res.returncode}: {res.output_tail[-500:]}")
        return out

    counts = record_job(f"crawl_{spider}", config_path, run)
    if spider == "mentions":  # a crisis should not wait for the next evaluation tick
        evaluate_job(config_path)
    return counts


def _failed_lines(output: str, limit: int = 5) -> list[str]:
    """The crawl's per-page failure lines (``失败 failed URL: reason``), for the job log and `status`."""
    lines = [line.strip() for line in output.splitlines() if line.startswith(("失败 failed ", "被拒 blocked "))]
    return lines[:limit]


def evaluate_job(config_path: str) -> dict[str, Any]:

    cfg = _config(config_path)
    return record_job("evaluate", config_path, lambda: evaluate_alerts(cfg))


def dispatch_job(config_path: str) -> dict[str, Any]:

    cfg = _config(config_path)
    return record_job("dispatch", config_path, lambda: dispatch_notifications(cfg))


def report_job(config_path: str) -> dict[str, Any]:

    cfg = _config(config_path)
    return record_job("report", config_path, lambda: daily_report(cfg, send=cfg.report.smtp is not None))


def report_catchup_job(config_path: str) -> dict[str, Any]:
    """Every few minutes: send the latest due report if it has not gone out (SMTP or the scheduler
    was down at report time). Recorded in job_runs only when there is something to send; the
    ledger makes a second send impossible."""

    cfg = _config(config_path)
    day = unsent_report_date(cfg)
    if day is None:
        return {}
    return record_job("report_catchup", config_path, lambda: daily_report(cfg, send=True, date_from=day, date_to=day))


# ---------------------------------------------------------------- triggers and the scheduler


JOB_FUNCS: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    **{f"crawl_{name}": (crawl_job, (name,)) for name in SPIDER_TABLE},
    "evaluate": (evaluate_job, ()),
    "dispatch": (dispatch_job, ()),
    "report": (report_job, ()),
    "report_catchup": (report_catchup_job, ()),
}


def _web_products(cfg: Config) -> list:
    """Products added in the web UI (they are crawled beside the file's); none when the database is not there."""

    try:
        return web_watched(open_database(cfg.database_url))
    except (DatabaseError, OSError):
        return []


def planned_jobs(cfg: Config) -> dict[str, str]:
    """Job id -> trigger spec from config (jobs set to 'off' or with nothing to do are left out)."""
    sch = cfg.schedule
    web_products = _web_products(cfg)
    plan = {
        **{
            f"crawl_{name}": getattr(sch, name)
            for name, kind in SPIDER_TABLE.items()
            if kind.worth_scheduling(cfg, web_products)
        },
        "evaluate": sch.evaluate,
        "dispatch": sch.dispatch,
        "report": sch.report,
        "report_catchup": "every 10m" if cfg.report.smtp is not None else "off",
    }

    if not report_enabled(cfg):  # [report] enabled = false, or schedule.report = "off"
        plan.pop("report")
        plan.pop("report_catchup")
    return {k: v for k, v in plan.items() if v and not is_off(v)}


def build_scheduler(cfg: Config, config_path: str, *, blocking: bool = True):

    cls = BlockingScheduler if blocking else BackgroundScheduler
    # The job store gets the product's engine settings (WAL, a 60 s busy timeout): with pysqlite's
    # default 5 s, one long write elsewhere makes APScheduler's next-run-time update fail, and its
    # thread dies silently.
    return cls(
        timezone=cfg.tz,
        jobstores={"default": SQLAlchemyJobStore(engine=make_engine(cfg.database_url), tablename="apscheduler_jobs")},
        executors={"default": ThreadPoolExecutor(6)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(cfg.schedule.misfire_grace_minutes * 60),
        },
    )


def sync_jobs(scheduler, cfg: Config, config_path: str) -> dict[str, str]:
    """Make the stored jobs match the config. A job whose trigger and arguments did not change is
    kept as stored (with its next run time), so a restart keeps the schedule."""
    plan = planned_jobs(cfg)
    actions = {}
    for job in scheduler.get_jobs():
        if job.id not in plan:
            scheduler.remove_job(job.id)
            actions[job.id] = "removed"
    for job_id, spec in plan.items():
        func, extra = JOB_FUNCS[job_id]
        trigger = parse_trigger(spec, cfg.tz)
        args = (config_path, *extra)
        existing = scheduler.get_job(job_id)
        if existing and str(existing.trigger) == str(trigger) and tuple(existing.args) == args:
            actions[job_id] = "kept"
            continue
        scheduler.add_job(func, trigger, args=args, id=job_id, name=job_id, replace_existing=True)
        actions[job_id] = "added" if existing is None else "updated"
    return actions


#: Seconds after `jingshao run` starts before a crawl that never ran starts (instead of one interval later).
FIRST_CRAWL_DELAY = 10.0


def never_crawled(cfg: Config) -> set[str]:
    """Spiders without a finished crawl in the database: a new user's first `jingshao run` crawls them
    at once instead of four hours later."""

    db = _database(cfg)
    try:
        with db.session() as s:
            done = set(s.scalars(select(CrawlRun.spider).where(CrawlRun.status == "finished").distinct()))
    finally:
        db.dispose()
    return {spider for spider in SPIDERS if spider not in done}


def schedule_first_crawls(scheduler, cfg: Config, *, delay: float = FIRST_CRAWL_DELAY) -> list[str]:
    """Bring the next run of each crawl job whose spider never finished a crawl forward to `delay`
    seconds from now (a job already due sooner is left alone). Returns the job ids moved."""

    soon = datetime.now(cfg.tz) + timedelta(seconds=delay)
    moved = []
    for spider in sorted(never_crawled(cfg)):
        job = scheduler.get_job(f"crawl_{spider}")
        if job is None:
            continue
        if job.next_run_time is None or job.next_run_time > soon:
            scheduler.modify_job(job.id, next_run_time=soon)
            moved.append(job.id)
    return moved


_JOB_WORDS = {
    "crawl_products": "抓取商品 crawl products",
    "crawl_reviews": "抓取评价 crawl reviews",
    "crawl_mentions": "抓取舆情 crawl mentions",
    "evaluate": "评估告警 evaluate alerts",
    "dispatch": "发送通知 dispatch notifications",
    "report": "竞品日报 daily report",
    "report_catchup": "补发日报 report catch-up",
}


def describe_schedule(spec: str) -> str:
    """'every 4h' -> '每 4 小时 (every 4h)'; a crontab is shown as written."""
    text = spec.strip()
    if text.startswith("every ") and text[-1] in "smhd":
        unit = {"s": "秒", "m": "分钟", "h": "小时", "d": "天"}[text[-1]]
        return f"每 {text[6:-1].strip()} {unit} ({text})"
    return f"crontab {text}"


def startup_summary(scheduler, cfg: Config, moved: list[str]) -> list[str]:
    """What `jingshao run` prints when it starts: each job with its schedule and next run, the
    channels notifications go to, and the database."""

    plan = planned_jobs(cfg)
    lines = [f"竞哨 jingshao run: {len(plan)} 个任务 jobs (时区 time zone {cfg.timezone})"]
    for job_id, spec in plan.items():
        job = scheduler.get_job(job_id)
        nxt = job.next_run_time.astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M:%S") if job and job.next_run_time else "—"
        first = "  ← 从未运行, 马上开始 never ran: starts now" if job_id in moved else ""
        lines.append(f"  {_JOB_WORDS.get(job_id, job_id)}: {describe_schedule(spec)}, 下次 next {nxt}{first}")
    if cfg.channels:
        lines.append("  通知渠道 channels: " + ", ".join(f"{c.name} ({c.type})" for c in cfg.channels))
    else:
        lines.append("  通知渠道 channels: 无 none (alerts are stored; `jingshao alerts list` shows them)")
    lines.append(f"  数据库 database: {redact(cfg.database_url)}")
    lines.append("  Ctrl-C 或 SIGTERM 停止 stops (running crawls close cleanly)")
    return lines


def job_event_line(event, tz) -> str:
    """One line per job run for `jingshao run`'s output."""
    when = datetime.now(tz).strftime("%H:%M:%S")
    name = _JOB_WORDS.get(event.job_id, event.job_id)
    if getattr(event, "exception", None) is not None:
        return f"{when} {name}: 失败 failed: {type(event.exception).__name__}: {event.exception}"[:600]
    value = event.retval if isinstance(event.retval, dict) else {}
    detail = ", ".join(f"{k} {v}" for k, v in value.items() if not str(k).startswith("_")) or "完成 done"
    return f"{when} {name}: {detail}"


def run_scheduler(
    cfg: Config,
    config_path: str,
    *,
    stop_event: threading.Event | None = None,
    out: Callable[[str], None] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or stop_event): running jobs finish, running crawls are asked
    to stop (each page already stored stays), nothing is left half-written.

    A crawl job whose spider never finished a crawl runs within seconds (:func:`schedule_first_crawls`).
    With ``out``, a startup summary and one line per job run are written through it."""

    # Signals first: a SIGTERM during startup (jobs already stored) stops it cleanly too.
    stop = stop_event or threading.Event()

    def on_signal(signum, _frame):
        log.warning("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    scheduler = build_scheduler(cfg, config_path, blocking=False)
    scheduler.start(paused=True)
    actions = sync_jobs(scheduler, cfg, config_path)
    for job_id, action in actions.items():
        log.info("job %s: %s", job_id, action)
    moved = schedule_first_crawls(scheduler, cfg)
    for job_id in moved:
        log.info("job %s: never ran; first run in %.0f s", job_id, FIRST_CRAWL_DELAY)
    if out is not None:
        for line in startup_summary(scheduler, cfg, moved):
            out(line)
        scheduler.add_listener(lambda event: out(job_event_line(event, cfg.tz)), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.resume()
    try:
        while not stop.wait(1):
            thread = getattr(scheduler, "_thread", None)
            if thread is not None and not thread.is_alive():
                # APScheduler's own thread died (e.g. its job store failed): no job would ever run
                # again while this process looked healthy. Exit non-zero so a supervisor restarts it.
                log.error("the scheduler thread died; exiting so the service manager restarts jingshao run")
                raise SchedulerDied("the scheduler thread died")
    finally:
        scheduler.pause()
        stop_children()
        scheduler.shutdown(wait=True)


class SchedulerDied(RuntimeError):
    pass


def next_runs(cfg: Config) -> dict[str, datetime | None]:
    """Next run time per stored job (read from the job store without starting a scheduler)."""

    store = SQLAlchemyJobStore(engine=make_engine(cfg.database_url), tablename="apscheduler_jobs")
    store.start(None, "default")
    try:
        return {job.id: job.next_run_time for job in store.get_all_jobs()}
    except Exception:
        return {}
    finally:
        store.shutdown()
