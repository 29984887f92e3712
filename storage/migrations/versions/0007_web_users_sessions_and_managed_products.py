"""web: users, API tokens, sessions; products managed in the web UI, paused and removed products

Issue 13: the dashboard's users (``jingshao users add``), API tokens (hashed), browser sessions; a
product's ``managed_by`` ("file" or "web") with the web-managed ones' config in ``spec``, and
``removed_at`` for products removed from the file or the web UI (history kept, out of prices/report/rules).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('competitors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spec', sa.JSON(), nullable=True))
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('managed_by', sa.String(length=10), server_default='file', nullable=False))
        batch_op.add_column(sa.Column('spec', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'web_users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('password_hash', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_web_users')),
        sa.UniqueConstraint('name', name=op.f('uq_web_users_name')),
    )
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('name', name=op.f('uq_api_tokens_name')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash')),
    )
    op.create_table(
        'web_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('user_name', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
        sa.UniqueConstraint('key_hash', name=op.f('uq_web_sessions_key_hash')),
    )
    op.create_index(op.f('ix_web_sessions_expires_at'), 'web_sessions', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_web_sessions_expires_at'), table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('api_tokens')
    op.drop_table('web_users')
    with op.batch_alter_table('products', schema=None) as batch_op:
        for name in ('removed_at', 'spec', 'managed_by'):
            batch_op.drop_column(name)
    with op.batch_alter_table('competitors', schema=None) as batch_op:
        batch_op.drop_column('spec')
