"""observation trust: final price, offers, variants, suspect status, basis, void

Prices a team can trust (issue 11): 到手价 and the offers it used, per-variant prices, a status
(``suspect`` when a price moves beyond the plausibility factor), the basis the values were read with
(extractor version + selectors: a new basis is a new baseline) and who voided an observation and why.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('final_price', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('offers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('variants', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=12), server_default='ok', nullable=False))
        batch_op.add_column(sa.Column('basis', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('voided_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('observations', schema=None) as batch_op:
        for name in ('void_reason', 'voided_by', 'voided_at', 'basis', 'status', 'variants', 'offers', 'final_price'):
            batch_op.drop_column(name)
