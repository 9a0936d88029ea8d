"""GraphQL enums; their values match the stored strings of gql_progress.db.models."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="What a user may do.")
class UserRole(Enum):
    LEARNER = strawberry.enum_value("LEARNER", description="Reads and writes only their own progress.")
    INSTRUCTOR = strawberry.enum_value(
        "INSTRUCTOR",
        description=(
            "Teaches the courses assigned to them: sees those courses' learners and analytics;"
            " a learner's rights otherwise."
        ),
    )
    ADMIN = strawberry.enum_value(
        "ADMIN", description="Manages the catalog and may act for any user by passing userId."
    )


@strawberry.enum(description="The kind of content a lesson holds.")
class LessonKind(Enum):
    VIDEO = strawberry.enum_value("VIDEO", description="A video; progress records a position.")
    ARTICLE = strawberry.enum_value("ARTICLE", description="Text to read.")
    QUIZ = strawberry.enum_value("QUIZ", description="A quiz; progress records score and attempts.")
    ASSIGNMENT = strawberry.enum_value("ASSIGNMENT", description="Work the learner hands in.")
    OTHER = strawberry.enum_value("OTHER", description="Anything else.")


@strawberry.enum(description="Where an enrollment stands.")
class EnrollmentStatus(Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="Some required lesson is not completed.")
    COMPLETED = strawberry.enum_value(
        "COMPLETED", description="Every required lesson is completed (see CourseSummary)."
    )


@strawberry.enum(description="Where a learner stands on one lesson.")
class ProgressStatus(Enum):
    NOT_STARTED = strawberry.enum_value("NOT_STARTED", description="Nothing recorded yet.")
    IN_PROGRESS = strawberry.enum_value(
        "IN_PROGRESS", description="A record exists and the lesson is not completed."
    )
    COMPLETED = strawberry.enum_value("COMPLETED", description="The lesson is completed.")


@strawberry.enum(description="What a non-course product is.")
class ProductKind(Enum):
    CONTEST = strawberry.enum_value("CONTEST", description="A contest or challenge.")
    LIVE_EVENT = strawberry.enum_value("LIVE_EVENT", description="A live session: webinar, workshop, class.")
    EBOOK = strawberry.enum_value("EBOOK", description="An ebook.")
    DOWNLOADABLE_PRODUCT = strawberry.enum_value(
        "DOWNLOADABLE_PRODUCT", description="Files to download: templates, datasets, source code."
    )
