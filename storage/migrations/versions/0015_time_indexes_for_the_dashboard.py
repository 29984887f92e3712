"""time indexes for the dashboard: what changed since yesterday, today's reviews and mentions (issue 13)

The overview asked for observations first seen since yesterday, reviews first seen today and
mentions posted today across all brands, and 抓取健康 for failures since a week ago: each was a
full table scan (EXPLAIN QUERY PLAN: SCAN observations / reviews / failed_observations, and the
whole (brand, posted_at) index for mentions). The API's brand mentions, newest stored first,
sorted every mention of the brand for one page: (brand, id) serves that order directly.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_observations_first_seen", "observations", ["first_seen_at"]),
    ("ix_reviews_first_seen", "reviews", ["first_seen_at"]),
    ("ix_mentions_posted", "mentions", ["posted_at"]),
    ("ix_mentions_brand_id", "mentions", ["brand", "id"]),
    ("ix_failed_observations_at", "failed_observations", ["at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
