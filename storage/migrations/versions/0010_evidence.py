"""evidence: content-addressed page snapshots and screenshots behind changing observations (issue 12)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'evidence_blobs',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('stored_size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_evidence_blobs')),
    )
    op.create_table(
        'observation_evidence',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('observation_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('html_sha256', sa.String(length=64), nullable=False),
        sa.Column('screenshot_sha256', sa.String(length=64), nullable=True),
        sa.Column('captured_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['observation_id'], ['observations.id'],
            name=op.f('fk_observation_evidence_observation_id_observations'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['product_id'], ['products.id'], name=op.f('fk_observation_evidence_product_id_products'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_observation_evidence')),
        sa.UniqueConstraint('observation_id', name=op.f('uq_observation_evidence_observation_id')),
    )
    with op.batch_alter_table('observation_evidence', schema=None) as batch_op:
        batch_op.create_index('ix_observation_evidence_product_captured', ['product_id', 'captured_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_observation_evidence_html_sha256'), ['html_sha256'], unique=False)


def downgrade() -> None:
    op.drop_table('observation_evidence')
    op.drop_table('evidence_blobs')
