"""The demo data shows every feature a new user should be able to try: a bundle holding every
item kind, bundle progress, a study plan with two instances. Loading it twice changes nothing."""

from __future__ import annotations

from gql_progress.demo import COMPLETED_COURSE, DEMO_CERTIFICATE_CODE, seed_demo
from tests.support import Api

BUNDLE = """
{
  bundle(slug: "data-skills-track") { items { __typename } }
  bundleProgress(bundle: {productId: "prod-data-track"}) {
    __typename
    ... on BundleProgress { items { __typename ... on ProductItemProgress { kind completed } } }
  }
}
"""

STUDY_PLANS = """
{
  me {
    studyPlans { totalCount nodes { title instances { totalCount } } }
    studyPlanInstances { nodes { completedResources resources { completed } } }
  }
}
"""


async def test_the_demo_bundle_holds_every_item_kind_and_the_learner_read_the_ebook(api: Api) -> None:
    keys = await seed_demo(api.db)
    data = await api.data(BUNDLE, key=keys.learner.secret)

    kinds = [item["__typename"] for item in data["bundle"]["items"]]
    assert sorted(kinds) == ["Contest", "Course", "Course", "DownloadableProduct", "Ebook", "LiveEvent"]
    progress = data["bundleProgress"]
    assert progress["__typename"] == "BundleProgress"
    consumed = {
        i["kind"] for i in progress["items"] if i["__typename"] == "ProductItemProgress" and i["completed"]
    }
    assert consumed == {"EBOOK"}


async def test_the_demo_study_plan_has_two_instances_sharing_the_learners_progress(api: Api) -> None:
    await seed_demo(api.db)
    keys = await seed_demo(api.db)  # a second load adds no plan or instance (and revokes old keys)
    data = await api.data(STUDY_PLANS, key=keys.learner.secret)

    plans = data["me"]["studyPlans"]
    assert plans["totalCount"] == 1
    assert plans["nodes"][0]["instances"]["totalCount"] == 2
    first, second = data["me"]["studyPlanInstances"]["nodes"]
    assert first["completedResources"] == second["completedResources"]
    assert len(first["completedResources"]) == 1  # the SQL course's first lesson, completed in the demo


CERTIFICATE = """
query($code: String!) {
  verifyCertificate(code: $code) { learnerName courseTitle }
  me { enrollmentsConnection { nodes { status course { slug } certificate { code } } } }
}
"""


async def test_the_demo_learner_completed_a_course_whose_certificate_has_the_fixed_demo_code(
    api: Api,
) -> None:
    await seed_demo(api.db)
    keys = await seed_demo(api.db)  # a second load issues no second certificate
    data = await api.data(CERTIFICATE, {"code": DEMO_CERTIFICATE_CODE}, key=keys.learner.secret)

    assert data["verifyCertificate"] == {"learnerName": "Lee Learner", "courseTitle": "Git Basics"}
    [completed] = [
        e for e in data["me"]["enrollmentsConnection"]["nodes"] if e["course"]["slug"] == COMPLETED_COURSE
    ]
    assert completed == {
        "status": "COMPLETED",
        "course": {"slug": COMPLETED_COURSE},
        "certificate": {"code": DEMO_CERTIFICATE_CODE},
    }
    # The event log tells the code the certificate has.
    events = await api.data(
        "{ events(types: [CERTIFICATE_ISSUED]) { nodes { data } } }", key=keys.admin.secret
    )
    assert [e["data"]["code"] for e in events["events"]["nodes"]] == [DEMO_CERTIFICATE_CODE]
