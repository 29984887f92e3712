"""insert_mentions says how many mentions were new, on SQLite and PostgreSQL alike (the crawl summary and
`jingshao mentions import` print it). PostgreSQL used to give -1 per row."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from jingshao.storage.db import open_database
from jingshao.storage.models import Mention
from jingshao.storage.repository import insert_mentions

from .test_crisis_counts import _rows


def test_new_mentions_are_counted_and_repeats_are_not(database_url):
    db = open_database(database_url)
    rows = _rows(random.Random(3), 40, "n")
    with db.session() as s:
        first = insert_mentions(s, rows)
    with db.session() as s:
        stored = s.scalar(select(func.count()).select_from(Mention))
    assert first == stored > 0
    with db.session() as s:  # the same posts seen again, plus one new
        again = insert_mentions(s, rows + _rows(random.Random(4), 1, "m"))
    assert again == 1
