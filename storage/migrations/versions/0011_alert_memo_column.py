"""alert memo column: the engine's per-alert memo moves out of alert_events

The memo was an ``alert_events`` row of kind ``memo`` (its ``detail`` the JSON text), updated in
place each evaluation: bookkeeping stored as history. It becomes ``alerts.memo`` (JSON); existing
memos are carried over and their event rows removed. Downgrade puts them back as events.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

"""
import json
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

alerts = sa.table('alerts', sa.column('id', sa.Integer), sa.column('level', sa.String), sa.column('memo', sa.JSON))
events = sa.table(
    'alert_events',
    sa.column('id', sa.Integer),
    sa.column('alert_id', sa.Integer),
    sa.column('kind', sa.String),
    sa.column('level', sa.String),
    sa.column('at', sa.DateTime(timezone=True)),
    sa.column('detail', sa.Text),
)


def _load(text: str | None) -> dict | None:
    try:
        value = json.loads(text or '{}')
    except ValueError:
        return None  # an unreadable memo is only a lost hint (the next evaluation writes a fresh one)
    return value if isinstance(value, dict) and value else None


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('memo', sa.JSON(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(events.c.alert_id, events.c.detail).where(events.c.kind == 'memo').order_by(events.c.id)
    ).all()
    memos = {alert_id: memo for alert_id, detail in rows if (memo := _load(detail)) is not None}
    for alert_id, memo in memos.items():
        bind.execute(sa.update(alerts).where(alerts.c.id == alert_id).values(memo=memo))
    bind.execute(sa.delete(events).where(events.c.kind == 'memo'))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(alerts.c.id, alerts.c.level, alerts.c.memo).where(alerts.c.memo.is_not(None))).all()
    now = sa.func.current_timestamp()
    for alert_id, level, memo in rows:
        bind.execute(
            sa.insert(events).values(
                alert_id=alert_id,
                kind='memo',
                level=level,
                at=now,
                detail=json.dumps(memo, ensure_ascii=False, sort_keys=True),
            )
        )
    # Not batch mode: on SQLite it would copy and drop the alerts table, and the drop cascades to every
    # alert_events row (foreign keys are on). ALTER TABLE ... DROP COLUMN works on SQLite >= 3.35 and PostgreSQL.
    op.execute('ALTER TABLE alerts DROP COLUMN memo')
