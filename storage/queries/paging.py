"""One page of a list statement with its total in a single round trip, shared by the REST API's
lists (:mod:`.web`) and the alert list (:mod:`jingshao.storage.alerts_repo`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, Select, bindparam, func, select

from . import read, read_rows

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def page_statements(q: Select, count: Select | None = None) -> tuple[Select, Select]:
    """(one page of ``q`` with the total, the total alone): the count rides along as an uncorrelated
    scalar subquery (the database runs it once), so a page is one statement; only a page past the
    end needs the count on its own. The page is bound as ``page_limit`` / ``page_offset``, names no
    list filter uses; the total is the page's last column. ``count``, when given, is a one-value
    statement over the same bound parameters that gives the number of ``q``'s rows another way
    (a kept count); by default the rows are counted."""
    if count is None:
        count = select(func.count()).select_from(q.order_by(None).correlate(None).subquery())
    count = count.correlate(None)
    page = (
        q.add_columns(count.scalar_subquery().label("page_total"))
        .limit(bindparam("page_limit", type_=Integer))
        .offset(bindparam("page_offset", type_=Integer))
    )
    return page, count


def read_page(
    session: Session, stmts: tuple[Select, Select], params: dict[str, Any], limit: int, offset: int
) -> tuple[list[Any], int]:
    """(the rows of one page of :func:`page_statements`' ``stmts``, each ending with the total; the
    number of all matching rows). An empty page reads the count on its own only past the start
    (an empty first page means there are none)."""
    page, count = stmts
    rows = read_rows(session, page, {**params, "page_limit": limit, "page_offset": offset})
    if rows:
        return rows, rows[0][-1]
    return rows, (read(session, count, params).scalar() or 0) if offset else 0
