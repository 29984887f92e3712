"""Dashboard reads do not take the database's write lock: GET requests run in the read session
(a deferred transaction on SQLite), and an API token's last-use time is written at most once a
minute, in its own short transaction. A real SQLite file, a real writer holding BEGIN IMMEDIATE.
The server freezes its start-up objects out of the cyclic collector."""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from jingshao.config import parse_config
from jingshao.storage.db import Database, open_database
from jingshao.storage.models import ApiToken, Competitor, Product, Review
from jingshao.web.app import create_app
from jingshao.web.auth import TOKEN_TOUCH_SECONDS, token_digest
from jingshao.web.server import make_server

TOKEN = "jst_database-token-0123456789abcdef"


@contextmanager
def serve(tmp_path: Path, *, token: bool) -> Iterator[tuple[Path, Database, TestClient]]:
    """The app on a SQLite file with one competitor; with a database API token, or in local mode."""
    path = tmp_path / "reads.db"
    cfg = parse_config({"database": {"url": f"sqlite:///{path}"}}, "test.toml")
    db = open_database(f"sqlite:///{path}")
    with db.session() as s:
        s.add(Competitor(name="蜜橙旗舰店"))
        if token:
            s.add(ApiToken(name="robot", role="viewer", token_hash=token_digest(TOKEN)))
    try:
        with TestClient(create_app(cfg, db=db), base_url="http://127.0.0.1") as client:
            yield path, db, client
    finally:
        db.dispose()


class Writer:
    """Another process's crawler: a plain sqlite3 connection holding the write lock until released."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=60)

    def __enter__(self) -> Writer:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT INTO competitors (name, created_at) VALUES ('写入中', '2026-12-01 08:00:00')")
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def get_while_locked(path: Path, client: TestClient, url: str, headers: dict[str, str]) -> tuple[bool, object]:
    """(whether the GET answered while the writer held the lock, its response)."""
    out: dict[str, object] = {}
    with Writer(path):
        worker = threading.Thread(target=lambda: out.update(r=client.get(url, headers=headers)))
        worker.start()
        worker.join(timeout=10)
        answered = not worker.is_alive()
    worker.join()
    return answered, out["r"]


def last_used(db: Database) -> datetime | None:
    with db.session() as s:
        return s.scalar(select(ApiToken.last_used_at).where(ApiToken.name == "robot"))


def test_read_session_does_not_wait_for_a_writer(tmp_path):
    path = tmp_path / "r.db"
    db = open_database(f"sqlite:///{path}")
    try:
        with db.session() as s:
            s.add(Competitor(name="青柚店"))
        with Writer(path), db.read_session() as s:
            assert s.scalars(select(Competitor.name)).all() == ["青柚店"]  # the writer's row is not visible
        assert db.read_engine is not db.engine
    finally:
        db.dispose()


def test_get_requests_answer_while_a_crawler_holds_the_write_lock(tmp_path):
    with serve(tmp_path, token=False) as (path, _db, client):
        for url, shows in (("/api/v1/competitors", "蜜橙旗舰店"), ("/settings", "监控设置")):
            answered, r = get_while_locked(path, client, url, {})
            assert answered, f"GET {url} waited for the writer's lock"
            assert r.status_code == 200 and shows in r.text


def test_a_recently_used_token_answers_while_a_crawler_holds_the_write_lock(tmp_path):
    with serve(tmp_path, token=True) as (path, db, client):
        with db.session() as s:  # the token was used a moment ago: nothing to write
            s.execute(update(ApiToken).values(last_used_at=datetime.now(UTC)))
        answered, r = get_while_locked(path, client, "/api/v1/competitors", {"Authorization": f"Bearer {TOKEN}"})
        assert answered, "a GET with a token waited for the writer's lock"
        assert r.status_code == 200 and "蜜橙旗舰店" in r.text


def test_token_last_use_is_written_at_most_once_a_minute(tmp_path):
    with serve(tmp_path, token=True) as served:
        check_token_touches(*served)


def check_token_touches(path: Path, db: Database, client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert last_used(db) is None
    assert client.get("/api/v1/competitors", headers=headers).status_code == 200
    first = last_used(db)
    assert first is not None and datetime.now(UTC) - first < timedelta(seconds=30)

    recent = datetime.now(UTC) - timedelta(seconds=TOKEN_TOUCH_SECONDS - 20)
    with db.session() as s:
        s.execute(update(ApiToken).values(last_used_at=recent))
    assert client.get("/api/v1/competitors", headers=headers).status_code == 200
    assert last_used(db) == recent  # under a minute old: left alone

    stale = datetime.now(UTC) - timedelta(seconds=TOKEN_TOUCH_SECONDS + 5)
    with db.session() as s:
        s.execute(update(ApiToken).values(last_used_at=stale))
    assert client.get("/api/v1/competitors", headers=headers).status_code == 200
    assert last_used(db) > stale + timedelta(seconds=TOKEN_TOUCH_SECONDS)


def test_the_server_freezes_its_start_up_objects_out_of_the_collector(tmp_path):
    cfg = parse_config({"database": {"url": f"sqlite:///{tmp_path / 'gc.db'}"}}, "test.toml")
    gc.unfreeze()
    try:
        make_server(cfg, "127.0.0.1", 0)
        assert gc.get_freeze_count() > 10_000  # the app, its routes and the libraries loaded for it
    finally:
        gc.unfreeze()


def test_a_rendered_page_does_not_look_for_edited_templates(tmp_path, monkeypatch):
    """The templates ship in the package: a render must not stat their files to see if they changed."""
    import os

    from jingshao.web.pages import templates

    template = templates.env.get_template("base.html")
    checked: list[str] = []
    real = os.path.getmtime
    monkeypatch.setattr(os.path, "getmtime", lambda p: checked.append(str(p)) or real(p))
    assert templates.env.get_template("base.html") is template
    assert checked == []


def test_reviewed_competitors_are_those_with_a_watched_reviewed_product(database_url):
    from jingshao.storage.queries.web_pages import reviewed_competitors

    db = open_database(database_url)
    try:
        with db.session() as s:
            # (competitor, [(product active, reviews)]): 蜜橙 and 白桃 count; 青柚 has none, 黄杏's is paused.
            shops = {
                "蜜橙": [(True, 2)],
                "青柚": [(True, 0)],
                "黄杏": [(False, 3)],
                "白桃": [(True, 0), (False, 1), (True, 1)],
            }
            for name, items in shops.items():
                comp = Competitor(name=name)
                s.add(comp)
                s.flush()
                for i, (active, n) in enumerate(items):
                    p = Product(competitor_id=comp.id, url=f"https://{comp.id}.example.com/{i}", active=active)
                    s.add(p)
                    s.flush()
                    for k in range(n):
                        s.add(Review(product_id=p.id, fingerprint=f"{p.id}-{k}", text="做工不错"))
        with db.read_session() as s:
            assert reviewed_competitors(s) == sorted(["蜜橙", "白桃"])
    finally:
        db.dispose()


def test_the_alert_pages_read_plain_rows_with_the_merged_notifications(database_url):
    from jingshao.storage import models as m
    from jingshao.storage.alerts_repo import get_alert, list_alerts

    db = open_database(database_url)
    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    try:
        with db.session() as s:
            a = m.Alert(
                fingerprint="fp-1",
                family="crisis",
                subject="蜜橙",
                subject_key="brand:蜜橙",
                level="red",
                max_level="red",
                rule="negative_burst",
                summary="负面声量激增",
                started_at=now,
                level_since=now,
                last_active_at=now,
                facts=[["负面占比", "62%"]],
            )
            s.add(a)
            s.flush()
            s.add_all(
                [
                    m.AlertEvent(alert_id=a.id, kind="opened", level="red", at=now, detail="负面占比 62%"),
                    m.AlertEvent(alert_id=a.id, kind="memo", level="red", at=now, detail="{}"),
                    m.AlertEvent(alert_id=a.id, kind="acked", level="red", at=now + timedelta(minutes=5)),
                ]
            )
            # Its notice went out in a group message, which an overflow summary carried in turn.
            summary = m.Notification(channel="wecom", kind="summary", level="red", payload={}, status="sent")
            s.add(summary)
            s.flush()
            group = m.Notification(
                channel="wecom", kind="group", level="red", payload={}, status="merged", merged_into=summary.id
            )
            s.add(group)
            s.flush()
            s.add(
                m.Notification(
                    alert_id=a.id, channel="wecom", kind="firing", level="red", payload={}, merged_into=group.id
                )
            )
            alert_id = a.id
        with db.read_session() as s:
            detail = get_alert(s, alert_id)
            listed = list_alerts(s, state=None)
            assert not list(s.identity_map.values())  # Core rows only: no ORM objects (nor their payloads)
        assert listed == [detail.alert]
        assert detail.alert.summary == "负面声量激增" and detail.alert.since == now
        assert detail.facts == [("负面占比", "62%")]
        assert [(e.kind, e.detail) for e in detail.events] == [("opened", "负面占比 62%"), ("acked", None)]
        assert [n.kind for n in detail.notifications] == ["summary", "group", "firing"]  # by id
    finally:
        db.dispose()


def test_a_list_page_and_its_total_are_one_statement(database_url):
    from sqlalchemy import event

    from jingshao.storage.queries import web as wq

    db = open_database(database_url)
    try:
        with db.session() as s:
            comp = Competitor(name="青柚店")
            s.add(comp)
            s.flush()
            s.add_all(
                Product(competitor_id=comp.id, url=f"https://q.example.com/{i}", name=f"商品{i}") for i in range(3)
            )
        statements: list[str] = []
        event.listen(db.read_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        with db.read_session() as s:
            s.execute(select(1))  # (the transaction's BEGIN is not the page's)
            statements.clear()
            page = wq.products(s, limit=2)
            assert ([p.name for p in page.items], page.total) == (["商品0", "商品1"], 3)
            assert len(statements) == 1
            last = wq.products(s, limit=2, offset=2)
            assert ([p.name for p in last.items], last.total) == (["商品2"], 3)
            past = wq.products(s, limit=2, offset=10)  # past the end: the count alone
            assert (past.items, past.total) == ([], 3)
            assert wq.products(s, competitor="无此店").total == 0
    finally:
        db.dispose()


def test_the_settings_lists_read_plain_columns(database_url):
    from jingshao.storage.queries import web as wq

    db = open_database(database_url)
    try:
        with db.session() as s:
            web_shop = Competitor(name="青柚店", spec={"category": "美妆", "selectors": {"price": ".p"}})
            file_shop, empty = Competitor(name="文件店"), Competitor(name="空店")
            s.add_all([web_shop, file_shop, empty])
            s.flush()
            s.add(Product(competitor_id=web_shop.id, url="https://q.example.com/1", name="精华", managed_by="web"))
            s.add(Product(competitor_id=web_shop.id, url="https://q.example.com/2", active=False, managed_by="web"))
            s.add(Product(competitor_id=file_shop.id, url="https://f.example.com/1", managed_by="file"))
        with db.read_session() as s:
            comps = {c.name: c for c in wq.competitors(s)}
            products = wq.products(s, status=None).items
            web_names = wq.web_competitor_names(s)
            assert not list(s.identity_map.values())  # Core rows only
        assert web_names == [c.name for c in comps.values() if c.managed_by == "web"] == ["青柚店"]
        assert [c for c in comps] == sorted(comps)
        assert (comps["青柚店"].products, comps["青柚店"].active_products, comps["青柚店"].managed_by) == (2, 1, "web")
        assert comps["青柚店"].category == "美妆" and comps["青柚店"].selectors == {"price": ".p"}
        assert (comps["文件店"].products, comps["文件店"].managed_by) == (1, "file")
        assert (comps["空店"].products, comps["空店"].active_products) == (0, 0)
        assert [(p.competitor, p.name or p.url, p.status) for p in products] == [
            ("青柚店", "精华", "active"),
            ("青柚店", "https://q.example.com/2", "paused"),
            ("文件店", "https://f.example.com/1", "active"),
        ]
    finally:
        db.dispose()


def test_competitor_health_groups_in_sql_like_the_rows_it_replaced(database_url):
    """Per competitor: active products counted, the newest confirmed observation's last sighting
    (a voided or suspect newer row does not count), and an old run's changes counted by its rows."""
    from jingshao.storage.models import CrawlRun, Observation
    from jingshao.storage.queries.web_pages import competitor_health

    t0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    db = open_database(database_url)
    try:
        with db.session() as s:
            run = CrawlRun(spider="products", status="finished")
            s.add(run)
            # (competitor, [(product active, [(first seen hours after t0, status, voided)])])
            shops = {
                "蜜橙": [(True, [(0, "ok", False), (5, "ok", False)]), (False, [(9, "ok", False)])],
                "青柚": [(True, [(1, "ok", False), (20, "suspect", False), (30, "ok", True)])],
                "黄杏": [(False, [])],  # only a paused product, never seen: not listed
                "白桃": [(True, []), (True, [])],  # watched, never seen
            }
            for name, items in shops.items():
                comp = Competitor(name=name)
                s.add(comp)
                s.flush()
                for i, (active, obs) in enumerate(items):
                    p = Product(competitor_id=comp.id, url=f"https://{comp.id}.example.com/{i}", active=active)
                    s.add(p)
                    s.flush()
                    for k, (hours, status, voided) in enumerate(obs):
                        at = t0 + timedelta(hours=hours)
                        s.add(
                            Observation(
                                product_id=p.id,
                                crawl_run_id=run.id if name == "蜜橙" else None,
                                price=100 + k,
                                content_hash=f"{p.id}-{k}",
                                first_seen_at=at,
                                last_seen_at=at + timedelta(hours=1),
                                status=status,
                                voided_at=at if voided else None,
                            )
                        )
            s.flush()
            run_id = run.id
        with db.read_session() as s:
            rows = {r.competitor: r for r in competitor_health(s, run_id)}
        assert sorted(rows) == ["白桃", "蜜橙", "青柚"]
        assert (rows["蜜橙"].products, rows["蜜橙"].last_seen_at) == (1, t0 + timedelta(hours=10))  # the paused one's
        assert (rows["青柚"].products, rows["青柚"].last_seen_at) == (1, t0 + timedelta(hours=2))
        assert (rows["白桃"].products, rows["白桃"].last_seen_at) == (2, None)
        assert (rows["蜜橙"].changed, rows["青柚"].changed) == (3, 0)  # no outcomes recorded: the run's rows
    finally:
        db.dispose()


def test_an_alert_page_in_sql_is_the_slice_of_the_sorted_list(database_url):
    """Paged in SQL (firing first, then red / yellow / blue / other, then newest): the same rows as
    slicing ``list_alerts``' Python sort, across equal start times and every filter set."""
    from jingshao.storage import models as m
    from jingshao.storage.alerts_repo import list_alerts, page_alerts

    db = open_database(database_url)
    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    levels = ["blue", "red", "yellow", "purple"]
    try:
        with db.session() as s:
            for i in range(23):
                level = levels[i % 4]
                s.add(
                    m.Alert(
                        fingerprint=f"fp-{i}",
                        family="crisis" if i % 3 else "price_drop",
                        subject=f"对象{i}",
                        subject_key=f"brand:{i}",
                        level=level,
                        max_level=level,
                        state="resolved" if i % 5 == 0 else "firing",
                        rule="rule",
                        summary=f"摘要{i}",
                        started_at=now - timedelta(hours=i // 3),  # three alerts share each start time
                        level_since=now,
                        last_active_at=now,
                    )
                )
        with db.read_session() as s:
            for state in (None, "firing", "resolved"):
                for level in (None, "red"):
                    for family in (None, "crisis"):
                        whole = list_alerts(s, state=state, level=level, family=family, limit=1000)
                        assert whole  # every filter set matches some alerts here
                        for limit, offset in ((50, 0), (4, 0), (4, 5), (3, len(whole) - 1), (5, len(whole) + 3)):
                            rows, total = page_alerts(
                                s, state=state, level=level, family=family, limit=limit, offset=offset
                            )
                            assert (rows, total) == (whole[offset : offset + limit], len(whole))
            assert [r.state for r in page_alerts(s, state=None, limit=23)[0]].index("resolved") == 23 - 5
    finally:
        db.dispose()


def test_web_competitor_names_are_the_competitors_listed_as_web_managed(database_url):
    """A spec and no product from the config file; an empty spec or one file product makes it "file"."""
    from jingshao.storage.queries import web as wq

    db = open_database(database_url)
    try:
        with db.session() as s:
            shops = {
                name: Competitor(name=name, spec=spec)
                for name, spec in (
                    ("甲店", {"category": "food"}),
                    ("乙店", {}),
                    ("丙店", {"category": "home"}),
                    ("丁店", None),
                )
            }
            s.add_all(shops.values())
            s.flush()
            s.add(Product(competitor_id=shops["甲店"].id, url="https://a.example.com/1", managed_by="web"))
            s.add(Product(competitor_id=shops["丙店"].id, url="https://c.example.com/1", managed_by="web"))
            s.add(Product(competitor_id=shops["丙店"].id, url="https://c.example.com/2", managed_by="file"))
        with db.read_session() as s:
            listed = [c.name for c in wq.competitors(s) if c.managed_by == "web"]
            assert wq.web_competitor_names(s) == listed == ["甲店"]
    finally:
        db.dispose()
