"""cookie jars: per competitor cookie source, expiry and health (issue 12)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'cookie_jars',
        sa.Column('scope', sa.String(length=300), nullable=False),
        sa.Column('competitor', sa.String(length=200), nullable=False),
        sa.Column('source', sa.String(length=500), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('refresh', sa.Text(), nullable=True),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('scope', name=op.f('pk_cookie_jars')),
    )


def downgrade() -> None:
    op.drop_table('cookie_jars')
