"""the in-memory bus's drain watermark

Revision ID: 0002
Revises: 0001
"""

from linli.shared.infra_migrations import v2_downgrade, v2_upgrade

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    v2_upgrade()


def downgrade() -> None:
    v2_downgrade()
