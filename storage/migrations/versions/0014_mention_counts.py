"""mention counts: per-brand, per-minute mention and negative counts for the crisis rules (issue 15)

An evaluation used to read every mention of the rules' 8-day horizon. ``mention_counts`` holds, per
brand and minute (minutes since 1970-01-01 UTC of ``posted_at``), how many mentions were posted and how
many are labelled ``neg``. Triggers on ``mentions`` keep it (an insert, a change of brand, posted_at or
label - a re-score, a retrained mention model -, a delete), so no write path has to remember it. The
upgrade fills it from the mentions already stored; running it again on a table that drifted is
``alembic downgrade 0013`` then ``upgrade head`` (the counts are rebuilt from the mentions).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The minute of a stored posted_at. SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' text: the whole seconds
# only (strftime would round the fraction to milliseconds and could carry 59.9996 s into the next
# minute), floored for times before 1970 as well.
_SQLITE_SECONDS = "CAST(strftime('%s', substr({col}, 1, 19)) AS INTEGER)"
_SQLITE_MINUTE = "(({s}) - ((({s}) % 60) + 60) % 60) / 60"
_PG_MINUTE = "CAST(floor(extract(epoch from {col}) / 60) AS bigint)"


def _minute(dialect: str, col: str) -> str:
    if dialect == "sqlite":
        return _SQLITE_MINUTE.format(s=_SQLITE_SECONDS.format(col=col))
    return _PG_MINUTE.format(col=col)


def _negative(col: str) -> str:
    return f"CASE WHEN {col} = 'neg' THEN 1 ELSE 0 END"


_ADD = (
    "INSERT INTO mention_counts (brand, minute, mentions, negatives) "
    "{select} ON CONFLICT (brand, minute) DO UPDATE SET "
    "mentions = mention_counts.mentions + excluded.mentions, "
    "negatives = mention_counts.negatives + excluded.negatives"
)
# A change that moves no count (the usual re-score: same label, same time) fires nothing.
_CHANGED = (
    "OLD.brand IS NOT NEW.brand OR OLD.posted_at IS NOT NEW.posted_at "
    "OR (CASE WHEN OLD.label = 'neg' THEN 1 ELSE 0 END) <> (CASE WHEN NEW.label = 'neg' THEN 1 ELSE 0 END)"
)


def _sqlite_apply(row: str, sign: int) -> str:
    select = (
        f"SELECT {row}.brand, {_minute('sqlite', f'{row}.posted_at')}, {sign}, {sign} * {_negative(f'{row}.label')} "
        f"WHERE {row}.posted_at IS NOT NULL"
    )
    return _ADD.format(select=select) + ";"


def _sqlite_triggers() -> list[str]:
    return [
        f"CREATE TRIGGER mention_counts_insert AFTER INSERT ON mentions BEGIN {_sqlite_apply('NEW', 1)} END",
        f"CREATE TRIGGER mention_counts_delete AFTER DELETE ON mentions BEGIN {_sqlite_apply('OLD', -1)} END",
        "CREATE TRIGGER mention_counts_update AFTER UPDATE OF brand, posted_at, label ON mentions "
        f"WHEN {_CHANGED} BEGIN {_sqlite_apply('OLD', -1)} {_sqlite_apply('NEW', 1)} END",
    ]


def _pg_apply(row: str, sign: int) -> str:
    values = f"VALUES ({row}.brand, {_minute('postgresql', f'{row}.posted_at')}, {sign}, {sign} * {_negative(f'{row}.label')})"
    return f"IF {row}.posted_at IS NOT NULL THEN {_ADD.format(select=values)}; END IF;"


def _pg_statements() -> list[str]:
    function = (
        "CREATE FUNCTION mention_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_pg_apply('OLD', -1)} END IF; "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_pg_apply('NEW', 1)} END IF; "
        "RETURN NULL; END $$"
    )
    changed = _CHANGED.replace(" IS NOT ", " IS DISTINCT FROM ")
    return [
        function,
        "CREATE TRIGGER mention_counts_insert_delete AFTER INSERT OR DELETE ON mentions "
        "FOR EACH ROW EXECUTE FUNCTION mention_counts_apply()",
        "CREATE TRIGGER mention_counts_update AFTER UPDATE OF brand, posted_at, label ON mentions "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION mention_counts_apply()",
    ]


def upgrade() -> None:
    op.create_table(
        "mention_counts",
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("minute", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("negatives", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("brand", "minute", name=op.f("pk_mention_counts")),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    dialect = bind.dialect.name
    minute = _minute(dialect, "posted_at")
    bind.execute(
        sa.text(
            "INSERT INTO mention_counts (brand, minute, mentions, negatives) "
            f"SELECT brand, {minute}, count(*), sum({_negative('label')}) FROM mentions "
            f"WHERE posted_at IS NOT NULL GROUP BY brand, {minute}"
        )
    )
    for statement in _sqlite_triggers() if dialect == "sqlite" else _pg_statements():
        bind.execute(sa.text(statement))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            bind.execute(sa.text(f"DROP TRIGGER IF EXISTS mention_counts_{name}"))
    else:
        bind.execute(sa.text("DROP TRIGGER IF EXISTS mention_counts_insert_delete ON mentions"))
        bind.execute(sa.text("DROP TRIGGER IF EXISTS mention_counts_update ON mentions"))
        bind.execute(sa.text("DROP FUNCTION IF EXISTS mention_counts_apply()"))
    op.drop_table("mention_counts")
