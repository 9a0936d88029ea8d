"""Root fields that take exactly one of several identifiers refuse none or several, naming each."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Api

ID, SLUG, PRODUCT_ID, EXTERNAL_ID, EMAIL = "id", "slug", "productId", "externalId", "email"
# (selection, the names the refusal lists when none is sent, and when two are)
FIELDS = [
    ("course(slug: $a, id: $b) { id }", [ID, SLUG], [ID, SLUG]),
    # productId is named only to whoever sends it: the older pair's message stays.
    ("course(slug: $a, productId: $b) { id }", [ID, SLUG], [ID, SLUG, PRODUCT_ID]),
    ("lesson(externalId: $a, id: $b) { id }", [ID, EXTERNAL_ID], [ID, EXTERNAL_ID]),
    ("bundle(slug: $a, productId: $b) { id }", [ID, PRODUCT_ID, SLUG], [ID, PRODUCT_ID, SLUG]),
    ("product(productId: $a, id: $b) { id }", [ID, PRODUCT_ID], [ID, PRODUCT_ID]),
    ("user(email: $a, externalId: $b) { id }", [ID, EMAIL, EXTERNAL_ID], [ID, EMAIL, EXTERNAL_ID]),
]


def _refused(body: dict[str, Any], names: list[str]) -> bool:
    [error] = body["errors"]
    message = f"give exactly one of {', '.join(names)}"
    return bool(
        error["extensions"]["code"] == "VALIDATION_FAILED"
        and error["extensions"]["fields"] == [{"path": [name], "message": message} for name in names]
    )


@pytest.mark.parametrize(
    ("selection", "none_sent", "two_sent"),
    FIELDS,
    ids=[selection.split(")")[0] + ")" for selection, *_ in FIELDS],
)
async def test_none_or_two_identifiers_are_refused_naming_each_argument(
    api: Api, selection: str, none_sent: list[str], two_sent: list[str]
) -> None:
    admin = await api.admin()
    second = "ID" if "id: $b" in selection else "String"
    document = f"query Q($a: String, $b: {second}) {{ {selection} }}"

    assert _refused(await api.gql(document, {}, key=admin.key), none_sent)
    assert _refused(await api.gql(document, {"a": "x", "b": "y"}, key=admin.key), two_sent)
