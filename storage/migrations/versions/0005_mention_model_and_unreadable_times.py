"""mention model columns and unreadable times

A mention's time may now be unknown (posted_at NULL, time_raw keeps what the source wrote) instead
of silently becoming the crawl time; mentions carry the mention model's P(negative). Reviews keep an
unreadable time's raw text as well.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.alter_column('posted_at', existing_type=sa.DateTime(timezone=True), nullable=True)
        batch_op.add_column(sa.Column('time_raw', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('negative_prob', sa.Double(), nullable=True))
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_raw', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_column('time_raw')
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.drop_column('negative_prob')
        batch_op.drop_column('time_raw')
        batch_op.alter_column('posted_at', existing_type=sa.DateTime(timezone=True), nullable=False)
