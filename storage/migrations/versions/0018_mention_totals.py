"""mention totals: how many mentions each brand has, for the API's list total (issue 13)

``GET /api/v1/mentions?brand=...`` reports ``total``, the number of the brand's mentions. Counting them
walked the brand's whole index range on every call (33,000 entries a brand on the bench data, ~0.7 ms,
most of the call; an index range cannot be counted without stepping through it). ``mention_totals``
holds the count per brand. Triggers on ``mentions`` keep it (an insert, a change of brand, a delete),
as ``mention_counts``' do (migration 0014), so no write path has to remember it. The upgrade fills it
from the mentions already stored; ``alembic downgrade 0017`` then ``upgrade head`` rebuilds it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADD = (
    "INSERT INTO mention_totals (brand, mentions) VALUES ({row}.brand, {sign}) "
    "ON CONFLICT (brand) DO UPDATE SET mentions = mention_totals.mentions + excluded.mentions"
)


def _sqlite_triggers() -> list[str]:
    return [
        f"CREATE TRIGGER mention_totals_insert AFTER INSERT ON mentions BEGIN {_ADD.format(row='NEW', sign=1)}; END",
        f"CREATE TRIGGER mention_totals_delete AFTER DELETE ON mentions BEGIN {_ADD.format(row='OLD', sign=-1)}; END",
        "CREATE TRIGGER mention_totals_update AFTER UPDATE OF brand ON mentions WHEN OLD.brand IS NOT NEW.brand "
        f"BEGIN {_ADD.format(row='OLD', sign=-1)}; {_ADD.format(row='NEW', sign=1)}; END",
    ]


def _pg_statements() -> list[str]:
    function = (
        "CREATE FUNCTION mention_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_ADD.format(row='OLD', sign=-1)}; END IF; "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_ADD.format(row='NEW', sign=1)}; END IF; "
        "RETURN NULL; END $$"
    )
    return [
        function,
        "CREATE TRIGGER mention_totals_insert_delete AFTER INSERT OR DELETE ON mentions "
        "FOR EACH ROW EXECUTE FUNCTION mention_totals_apply()",
        "CREATE TRIGGER mention_totals_update AFTER UPDATE OF brand ON mentions "
        "FOR EACH ROW WHEN (OLD.brand IS DISTINCT FROM NEW.brand) EXECUTE FUNCTION mention_totals_apply()",
    ]


def upgrade() -> None:
    op.create_table(
        "mention_totals",
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("brand", name=op.f("pk_mention_totals")),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    bind.execute(
        sa.text("INSERT INTO mention_totals (brand, mentions) SELECT brand, count(*) FROM mentions GROUP BY brand")
    )
    for statement in _sqlite_triggers() if bind.dialect.name == "sqlite" else _pg_statements():
        bind.execute(sa.text(statement))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            bind.execute(sa.text(f"DROP TRIGGER IF EXISTS mention_totals_{name}"))
    else:
        bind.execute(sa.text("DROP TRIGGER IF EXISTS mention_totals_insert_delete ON mentions"))
        bind.execute(sa.text("DROP TRIGGER IF EXISTS mention_totals_update ON mentions"))
        bind.execute(sa.text("DROP FUNCTION IF EXISTS mention_totals_apply()"))
    op.drop_table("mention_totals")
