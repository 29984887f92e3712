"""blocked pages, per-domain back-off, page profiles, per-competitor crawl outcomes

Issue 12: a failed observation has a kind (failed | blocked); ``domain_backoff`` keeps each domain's
delay floor, blocked pages in a row and pause; ``page_profiles`` the usual size of a product's page (an
empty shell is far below it); ``crawl_competitor_outcomes`` the pages changed / unchanged / failed /
blocked per crawl and competitor.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('failed_observations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='failed', nullable=False))
    op.create_table(
        'domain_backoff',
        sa.Column('domain', sa.String(length=255), nullable=False),
        sa.Column('delay', sa.Float(), nullable=False),
        sa.Column('blocks_in_row', sa.Integer(), nullable=False),
        sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_block_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_reason', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('domain', name=op.f('pk_domain_backoff')),
    )
    op.create_table(
        'page_profiles',
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('usual_bytes', sa.Integer(), nullable=False),
        sa.Column('samples', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['product_id'], ['products.id'], name=op.f('fk_page_profiles_product_id_products'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('product_id', name=op.f('pk_page_profiles')),
    )
    op.create_table(
        'crawl_competitor_outcomes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('crawl_run_id', sa.Integer(), nullable=False),
        sa.Column('competitor', sa.String(length=200), nullable=False),
        sa.Column('changed', sa.Integer(), nullable=False),
        sa.Column('unchanged', sa.Integer(), nullable=False),
        sa.Column('failed', sa.Integer(), nullable=False),
        sa.Column('blocked', sa.Integer(), nullable=False),
        sa.Column('blocked_reason', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['crawl_run_id'],
            ['crawl_runs.id'],
            name=op.f('fk_crawl_competitor_outcomes_crawl_run_id_crawl_runs'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_competitor_outcomes')),
        sa.UniqueConstraint('crawl_run_id', 'competitor', name='uq_crawl_competitor_outcomes_run'),
    )
    with op.batch_alter_table('crawl_competitor_outcomes', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_crawl_competitor_outcomes_crawl_run_id'), ['crawl_run_id'], unique=False
        )
        batch_op.create_index(batch_op.f('ix_crawl_competitor_outcomes_competitor'), ['competitor'], unique=False)


def downgrade() -> None:
    op.drop_table('crawl_competitor_outcomes')
    op.drop_table('page_profiles')
    op.drop_table('domain_backoff')
    with op.batch_alter_table('failed_observations', schema=None) as batch_op:
        batch_op.drop_column('kind')
