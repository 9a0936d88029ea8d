"""Bundles of courses and other products, product completions, study plans and their instances.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:18:11.797672
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bundles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=255), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundles")),
        sa.UniqueConstraint("product_id", name=op.f("uq_bundles_product_id")),
        sa.UniqueConstraint("slug", name=op.f("uq_bundles_slug")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=255), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "CONTEST",
                "LIVE_EVENT",
                "EBOOK",
                "DOWNLOADABLE_PRODUCT",
                name="product_kind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("product_id", name=op.f("uq_products_product_id")),
    )
    op.create_table(
        "bundle_enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.Integer(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["bundles.id"],
            name=op.f("fk_bundle_enrollments_bundle_id_bundles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bundle_enrollments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_enrollments")),
        sa.UniqueConstraint("user_id", "bundle_id", name=op.f("uq_bundle_enrollments_user_id_bundle_id")),
    )
    op.create_index(
        op.f("ix_bundle_enrollments_bundle_id"), "bundle_enrollments", ["bundle_id"], unique=False
    )

    op.create_table(
        "bundle_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("product_pk", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(course_id IS NULL) <> (product_pk IS NULL)", name=op.f("ck_bundle_items_one_item")
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_bundle_items_position_non_negative")),
        sa.ForeignKeyConstraint(
            ["bundle_id"], ["bundles.id"], name=op.f("fk_bundle_items_bundle_id_bundles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_bundle_items_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_pk"],
            ["products.id"],
            name=op.f("fk_bundle_items_product_pk_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_items")),
        sa.UniqueConstraint("bundle_id", "course_id", name=op.f("uq_bundle_items_bundle_id_course_id")),
        sa.UniqueConstraint("bundle_id", "position", name=op.f("uq_bundle_items_bundle_id_position")),
        sa.UniqueConstraint("bundle_id", "product_pk", name=op.f("uq_bundle_items_bundle_id_product_pk")),
    )
    op.create_index(op.f("ix_bundle_items_course_id"), "bundle_items", ["course_id"], unique=False)
    op.create_index(op.f("ix_bundle_items_product_pk"), "bundle_items", ["product_pk"], unique=False)

    op.create_table(
        "product_completions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("product_pk", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "completed = (completed_at IS NOT NULL)",
            name=op.f("ck_product_completions_completed_at_matches_completed"),
        ),
        sa.ForeignKeyConstraint(
            ["product_pk"],
            ["products.id"],
            name=op.f("fk_product_completions_product_pk_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_product_completions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_completions")),
        sa.UniqueConstraint("user_id", "product_pk", name=op.f("uq_product_completions_user_id_product_pk")),
    )
    op.create_index(
        op.f("ix_product_completions_product_pk"), "product_completions", ["product_pk"], unique=False
    )

    op.create_table(
        "study_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_study_plans_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_plans")),
    )
    op.create_index(op.f("ix_study_plans_user_id"), "study_plans", ["user_id"], unique=False)

    op.create_table(
        "study_plan_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_plan_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_plan_id"],
            ["study_plans.id"],
            name=op.f("fk_study_plan_instances_study_plan_id_study_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_study_plan_instances_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_plan_instances")),
    )
    op.create_index(
        op.f("ix_study_plan_instances_study_plan_id"), "study_plan_instances", ["study_plan_id"], unique=False
    )
    op.create_index(
        op.f("ix_study_plan_instances_user_id"), "study_plan_instances", ["user_id"], unique=False
    )

    op.create_table(
        "study_plan_lessons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_plan_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("position >= 0", name=op.f("ck_study_plan_lessons_position_non_negative")),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lessons.id"],
            name=op.f("fk_study_plan_lessons_lesson_id_lessons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["study_plan_id"],
            ["study_plans.id"],
            name=op.f("fk_study_plan_lessons_study_plan_id_study_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_plan_lessons")),
        sa.UniqueConstraint(
            "study_plan_id", "lesson_id", name=op.f("uq_study_plan_lessons_study_plan_id_lesson_id")
        ),
        sa.UniqueConstraint(
            "study_plan_id", "position", name=op.f("uq_study_plan_lessons_study_plan_id_position")
        ),
    )
    op.create_index(
        op.f("ix_study_plan_lessons_lesson_id"), "study_plan_lessons", ["lesson_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_study_plan_lessons_lesson_id"), table_name="study_plan_lessons")

    op.drop_table("study_plan_lessons")
    op.drop_index(op.f("ix_study_plan_instances_user_id"), table_name="study_plan_instances")
    op.drop_index(op.f("ix_study_plan_instances_study_plan_id"), table_name="study_plan_instances")

    op.drop_table("study_plan_instances")
    op.drop_index(op.f("ix_study_plans_user_id"), table_name="study_plans")

    op.drop_table("study_plans")
    op.drop_index(op.f("ix_product_completions_product_pk"), table_name="product_completions")

    op.drop_table("product_completions")
    op.drop_index(op.f("ix_bundle_items_product_pk"), table_name="bundle_items")
    op.drop_index(op.f("ix_bundle_items_course_id"), table_name="bundle_items")

    op.drop_table("bundle_items")
    op.drop_index(op.f("ix_bundle_enrollments_bundle_id"), table_name="bundle_enrollments")

    op.drop_table("bundle_enrollments")
    op.drop_table("products")
    op.drop_table("bundles")
