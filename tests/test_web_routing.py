"""web.routing.Router: a sync handler runs, commits its session and renders its JSON in one worker
thread; an error rolls the request back. A real SQLite database and a real FastAPI app."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from jingshao.storage.db import open_database
from jingshao.storage.models import Competitor
from jingshao.web.deps import get_db
from jingshao.web.routing import Router


@dataclass(frozen=True)
class Priced:
    name: str
    price: Decimal
    at: datetime


def make_app(db) -> tuple[FastAPI, dict[str, list[int]]]:
    seen: dict[str, list[int]] = {"handler": [], "commit": []}
    router = Router()

    @event.listens_for(db.sessionmaker, "after_commit")
    def _committed(session):  # where the commit ran (a thread id)
        seen["commit"].append(threading.get_ident())

    @router.post("/competitors/{name}", status_code=201)
    def add(name: str, s: Session = Depends(get_db)) -> Priced:
        seen["handler"].append(threading.get_ident())
        s.add(Competitor(name=name, created_at=datetime.now(UTC)))
        s.flush()
        if name == "bad":
            raise HTTPException(409, "refused after writing")
        return Priced(name, Decimal("4299.00"), datetime(2026, 12, 1, 8, tzinfo=UTC))

    app = FastAPI()
    app.state.db = db
    app.include_router(router)
    return app, seen


def test_one_thread_commits_and_serializes_with_the_model(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    app, seen = make_app(db)
    try:
        with TestClient(app) as client:
            r = client.post("/competitors/蜜橙店")
            assert r.status_code == 201
            assert r.json() == {"name": "蜜橙店", "price": "4299.00", "at": "2026-12-01T08:00:00Z"}
            assert seen["handler"] and seen["commit"][-1] == seen["handler"][-1]  # committed in the handler's thread
            assert seen["handler"][-1] != threading.get_ident()  # (not on the test's thread)

            r = client.post("/competitors/bad")
            assert r.status_code == 409 and r.json() == {"detail": "refused after writing"}
        with db.session() as s:
            assert s.scalars(select(Competitor.name)).all() == ["蜜橙店"]  # the failed request left nothing
        schema = app.openapi()["components"]["schemas"]["Priced"]
        assert set(schema["properties"]) == {"name", "price", "at"}
    finally:
        db.dispose()


def test_inline_read_runs_on_the_event_loop_on_sqlite_and_commits(tmp_path):
    from jingshao.web.routing import inline_read

    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    seen: dict[str, int] = {}
    router = Router()

    @router.get("/loop")
    async def loop_thread() -> dict[str, int]:
        seen["loop"] = threading.get_ident()
        return {}

    @router.get("/count")
    @inline_read
    def count(s: Session = Depends(get_db)) -> Priced:
        seen["inline"] = threading.get_ident()
        n = len(s.scalars(select(Competitor.id)).all())
        return Priced(str(n), Decimal("1.50"), datetime(2026, 12, 1, 8, tzinfo=UTC))

    @router.get("/pooled")
    def pooled(s: Session = Depends(get_db)) -> dict[str, int]:
        seen["pooled"] = threading.get_ident()
        return {"n": len(s.scalars(select(Competitor.id)).all())}

    app = FastAPI()
    app.state.db = db
    app.include_router(router)
    try:
        with TestClient(app) as client:
            client.get("/loop")
            r = client.get("/count")
            assert r.json() == {"name": "0", "price": "1.50", "at": "2026-12-01T08:00:00Z"}  # the response model
            assert client.get("/pooled").json() == {"n": 0}
        assert seen["inline"] == seen["loop"]  # no worker thread
        assert seen["pooled"] != seen["loop"]  # an unmarked sync handler still has one
        assert "Priced" in app.openapi()["components"]["schemas"]
    finally:
        db.dispose()


def test_segment_dispatch_picks_the_route_trying_them_all_would():
    from fastapi import APIRouter

    from jingshao.web.routing import SegmentDispatch

    router = APIRouter()

    @router.get("/items")
    def items() -> str:
        return "items"

    @router.get("/items/{item_id:int}")
    def item(item_id: int) -> str:
        return f"item {item_id}"

    @router.get("/items.csv")
    def items_csv() -> str:
        return "csv"

    @router.get("/{kind}/latest")  # a parameter first: tried for every segment, in its place
    def latest(kind: str) -> str:
        return f"latest {kind}"

    @router.get("/items/latest")  # after the parameter route, so that one wins, as in order
    def shadowed() -> str:
        return "shadowed"

    app = FastAPI()
    app.mount("/api", SegmentDispatch(router.routes))
    with TestClient(app) as client:
        assert client.get("/api/items").json() == "items"
        assert client.get("/api/items/7").json() == "item 7"
        assert client.get("/api/items.csv").json() == "csv"
        assert client.get("/api/items/latest").json() == "latest items"
        assert client.get("/api/other/latest").json() == "latest other"
        assert client.get("/api/nothing").status_code == 404
        assert client.get("/api/items/x").status_code == 404
        r = client.get("/api/items/", follow_redirects=False)  # slashes are redirected as before
        assert r.status_code == 307 and r.headers["location"].endswith("/api/items")


async def window(
    since: datetime | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: int = 0
) -> dict[str, Any]:
    """A query-only dependency (as the API's ``_window``): at module level, so its annotations resolve."""
    return {"since": since.isoformat() if since else None, "limit": limit, "offset": offset}


def test_served_routes_read_their_parameters_in_one_model_as_fastapi_would(tmp_path):
    """A route served as the app serves it (its own route object, web.app's SegmentDispatch) reads
    its path and query parameters, and a query-only dependency's, with one ParamParser; the same
    route included in another app (as web.app documents the API) is solved by FastAPI itself. Both
    must answer every URL, good or bad, with the same status and JSON, and the docs keep the params."""
    from jingshao.web.routing import SegmentDispatch, inline_read

    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    router = Router()

    @router.get("/things/{thing_id}")
    @inline_read
    def things(
        thing_id: int,
        s: Annotated[Session, Depends(get_db)],
        page: Annotated[dict[str, Any], Depends(window)],
        state: Literal["on", "off", "all"] = "on",
        search: Annotated[str | None, Query(alias="q")] = None,
        flag: bool = True,
        needed: int | None = Query(...),  # required
    ) -> dict[str, Any]:
        return {"id": thing_id, "page": page, "state": state, "q": search, "flag": flag, "needed": needed}

    @router.get("/pooled/{n}")
    def pooled(n: int, s: Annotated[Session, Depends(get_db)], days: Annotated[int, Query(ge=1)] = 7) -> dict:
        return {"n": n, "days": days}

    served = FastAPI()
    served.state.db = db
    served.mount("", SegmentDispatch(router.routes))
    documented = FastAPI()
    documented.state.db = db
    documented.include_router(router)
    served_route = next(r for r in router.routes if getattr(r, "path", "") == "/things/{thing_id}")
    assert served_route.dependant.query_params == [] and served_route.dependant.path_params == []  # the parser's
    urls = [
        "/things/1?needed=3",
        "/things/1?needed=3&state=all&q=蜜橙&flag=no&limit=2&offset=4&since=2026-12-01T08:00:00%2B08:00",
        "/things/1?needed=3&search=ignored&q=",
        "/things/x?needed=y&state=bogus&limit=0&flag=maybe&since=yesterday",
        "/things/1",  # the required one missing
        "/things/1?needed=&limit=501",
        "/things/1?needed=1&limit=3&limit=700",  # the last value counts, as in FastAPI
        "/pooled/2?days=3",
        "/pooled/x?days=0",
    ]
    try:
        with TestClient(served) as a, TestClient(documented) as b:
            for url in urls:
                ra, rb = a.get(url), b.get(url)
                assert (ra.status_code, ra.json()) == (rb.status_code, rb.json()), url
            assert a.get(urls[1]).json()["page"] == {"since": "2026-12-01T08:00:00+08:00", "limit": 2, "offset": 4}
            assert a.get(urls[3]).status_code == 422
        params = {p["name"] for p in documented.openapi()["paths"]["/things/{thing_id}"]["get"]["parameters"]}
        assert params == {"thing_id", "state", "q", "flag", "needed", "since", "limit", "offset"}
    finally:
        db.dispose()


def test_without_the_fastapi_internals_routes_keep_fastapis_own_parameters(tmp_path, monkeypatch):
    """On a FastAPI whose internals ParamParser needs are not there, a route is left as FastAPI
    builds it: same answers, 422 included (the app must not fail to start on another FastAPI)."""
    from jingshao.web import routing

    monkeypatch.setattr(routing, "FAST_PARAMS", False)
    db = open_database(f"sqlite:///{tmp_path / 'f.db'}")
    router = Router()

    @router.get("/pooled/{n}")
    def pooled(n: int, s: Annotated[Session, Depends(get_db)], days: Annotated[int, Query(ge=1)] = 7) -> dict:
        return {"n": n, "days": days}

    [route] = router.routes
    assert [f.name for f in route.dependant.query_params] == ["days"]  # FastAPI's own, not the parser's
    app = FastAPI()
    app.state.db = db
    app.include_router(router)
    try:
        with TestClient(app) as client:
            assert client.get("/pooled/2?days=3").json() == {"n": 2, "days": 3}
            bad = client.get("/pooled/2?days=0")
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "days"]
    finally:
        db.dispose()


# The dependencies of test_lean_handler_calls_and_closes_dependencies_as_fastapi_does (module level,
# so the handlers' annotations resolve as the app's do).
events: list[str] = []


async def session(request: Request):
    events.append("enter")
    try:
        yield "s"
    except BaseException as exc:
        events.append(f"throw {type(exc).__name__}")
        raise
    else:
        events.append("exit")


async def guard(request: Request, s: Annotated[str, Depends(session)]) -> str:
    events.append(f"guard {s}")
    if request.query_params.get("deny"):
        raise HTTPException(403, "denied")
    return "u"


async def outer(request: Request, user: Annotated[str, Depends(guard)], s: Annotated[str, Depends(session)]) -> str:
    events.append(f"outer {user} {s}")
    return "o"


def test_lean_handler_calls_and_closes_dependencies_as_fastapi_does(tmp_path):
    """A route served by its own route object (web.routing.lean_handler) and the same route included
    in another app (FastAPI's handler) call the same dependencies in the same order, once each, leave
    the one with yield after the response is sent (an error thrown into it first), and answer the
    same: status, body and headers, through the app's exception handlers."""
    from jingshao.web.routing import SegmentDispatch, inline_read, is_lean

    router = Router(dependencies=[Depends(guard)])

    @router.get("/a/{n}")
    @inline_read
    def a(n: int, o: Annotated[str, Depends(outer)], s: Annotated[str, Depends(session)]) -> dict[str, Any]:
        events.append(f"a {n} {o} {s}")
        if n == 0:
            raise HTTPException(404, "none", {"X-Why": "zero"})
        if n == 1:
            raise ValueError("boom")
        return {"n": n}

    @router.get("/b")
    def b(request: Request, s: Annotated[str, Depends(session)]) -> Response:
        events.append(f"b {s} {threading.get_ident() != main}")
        return Response("b", headers={"X-B": "1"})

    main = threading.get_ident()
    assert all(is_lean(r) for r in router.routes)

    def make(served: bool) -> FastAPI:
        app = FastAPI()
        app.state.db = None
        if served:
            app.mount("", SegmentDispatch(router.routes))
        else:
            app.include_router(router)

        @app.exception_handler(ValueError)
        async def _value(request: Request, exc: ValueError) -> Response:
            return JSONResponse({"error": str(exc)}, status_code=500)

        return app

    urls = ["/a/2", "/a/0", "/a/1", "/a/2?deny=1", "/a/x", "/b", "/b?deny=1", "/nowhere"]
    answers: dict[bool, list[Any]] = {}
    for served in (True, False):
        answers[served] = []
        with TestClient(make(served), raise_server_exceptions=False) as client:
            for url in urls:
                events.clear()
                r = client.get(url)
                headers = {k: v for k, v in r.headers.items() if k != "date"}
                answers[served].append((url, r.status_code, r.content, headers, list(events)))
    assert answers[True] == answers[False]
    by_url = {url: ev for url, _, _, _, ev in answers[True]}
    assert by_url["/a/2"] == ["enter", "guard s", "outer u s", "a 2 o s", "exit"]
    assert by_url["/a/0"][-1] == "throw HTTPException" and by_url["/a/1"][-1] == "throw ValueError"
    assert by_url["/b"] == ["enter", "guard s", "b s True", "exit"]  # a sync handler: its worker thread


def test_a_fastapi_whose_dependant_differs_keeps_fastapis_handler(monkeypatch):
    """lean_handler reads fields of FastAPI's Dependant that another FastAPI may not have (pyproject
    allows other versions): there the route keeps FastAPI's own handler and answers the same."""
    from jingshao.web import routing

    def missing(_d: object) -> bool:
        raise AttributeError("'Dependant' object has no attribute 'websocket_param_name'")

    monkeypatch.setattr(routing, "_only_request_param", missing)
    router = Router(dependencies=[Depends(guard)])

    @router.get("/c")
    def c(s: Annotated[str, Depends(session)]) -> Response:
        return Response(f"c {s}")

    assert not any(routing.is_lean(r) for r in router.routes)
    app = FastAPI()
    app.include_router(router)
    events.clear()
    with TestClient(app) as client:
        r = client.get("/c")
    assert (r.status_code, r.text.startswith("c ")) == (200, True)
