"""The study plan connections shared by Query.studyPlans, User's and StudyPlan's fields.

Each caller has authorised the user or plan it passes: these only page. Batched across parents
(see nested_pages.py), so plans listed under a list of users cost no statement per user.
"""

from __future__ import annotations

from sqlalchemy import select

from gql_progress.api.context import Info
from gql_progress.api.loaders.child_rows import ChildRows, no_filter
from gql_progress.api.nested_pages import nested_connection
from gql_progress.api.pagination import Connection, PageArguments
from gql_progress.api.types.study_plan import StudyPlan
from gql_progress.api.types.study_plan_instance import StudyPlanInstance
from gql_progress.db.models import StudyPlan as StudyPlanModel
from gql_progress.db.models import StudyPlanInstance as InstanceModel
from gql_progress.db.rows import StudyPlanInstanceRow, StudyPlanRow, columns

PLANS_OF_USER = ChildRows(
    row=StudyPlanRow,
    query=no_filter(select(*columns(StudyPlanRow))),
    parent=StudyPlanModel.user_id,
    key=StudyPlanModel.id,
)
INSTANCES_OF_USER = ChildRows(
    row=StudyPlanInstanceRow,
    query=no_filter(select(*columns(StudyPlanInstanceRow))),
    parent=InstanceModel.user_id,
    key=InstanceModel.id,
)
INSTANCES_OF_PLAN = ChildRows(
    row=StudyPlanInstanceRow,
    query=no_filter(select(*columns(StudyPlanInstanceRow))),
    parent=InstanceModel.study_plan_id,
    key=InstanceModel.id,
)


async def plans_of_user(info: Info, user_id: int, paging: PageArguments) -> Connection[StudyPlan]:
    return await nested_connection(info, PLANS_OF_USER, user_id, paging, StudyPlan.from_row)


async def instances_of_user(info: Info, user_id: int, paging: PageArguments) -> Connection[StudyPlanInstance]:
    return await nested_connection(info, INSTANCES_OF_USER, user_id, paging, StudyPlanInstance.from_row)


async def instances_of_plan(info: Info, plan_id: int, paging: PageArguments) -> Connection[StudyPlanInstance]:
    return await nested_connection(info, INSTANCES_OF_PLAN, plan_id, paging, StudyPlanInstance.from_row)
