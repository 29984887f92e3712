"""list page prices: a product's price as a list or search page shows it (issue 12, Article 20 audits)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'list_page_prices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('page_url', sa.String(length=2000), nullable=False),
        sa.Column('price', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['product_id'], ['products.id'], name=op.f('fk_list_page_prices_product_id_products'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_list_page_prices')),
    )
    with op.batch_alter_table('list_page_prices', schema=None) as batch_op:
        batch_op.create_index('ix_list_page_prices_product_seen', ['product_id', 'seen_at'], unique=False)


def downgrade() -> None:
    op.drop_table('list_page_prices')
