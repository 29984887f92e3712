"""crawl-run indexes: a run's observations and failures (抓取健康, issue 13)

抓取健康 counts, per competitor, the changed and failed rows of the newest products run when that
run recorded no per-competitor outcomes (runs from before they were recorded): each count was a
full scan (EXPLAIN QUERY PLAN: SCAN observations; 90,000 rows on the bench data, ~30 ms of the page).
An index on ``crawl_run_id`` makes them a seek to the run's rows.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_observations_crawl_run", "observations", ["crawl_run_id"]),
    ("ix_failed_observations_crawl_run", "failed_observations", ["crawl_run_id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
