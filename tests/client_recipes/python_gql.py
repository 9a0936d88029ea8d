"""gql (pip install "gql[httpx]"), from a platform's backend: a query, a mutation's error union
and a refused request."""

import os

from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

transport = HTTPXTransport(
    url=os.environ.get("API_URL", "http://127.0.0.1:8000/graphql"),
    headers={"Authorization": f"Bearer {os.environ['KEY']}"},
)

HEARTBEAT = """
mutation Heartbeat($input: UpsertProgressInput!) {
  upsertProgress(input: $input) {
    __typename
    ... on UpsertProgressSuccess { progress { status videoPositionSeconds } }
    ... on Error { code message }
  }
}
"""

with Client(transport=transport) as session:
    me = session.execute(gql("{ me { name } }"))["me"]
    print(f"signed in as {me['name']}")

    for lesson_id in ["TGVzc29uOjQ=", "TGVzc29uOjk5OQ=="]:
        variables = {"input": {"lessonId": lesson_id, "videoPositionSeconds": 240}}
        result = session.execute(GraphQLRequest(HEARTBEAT, variable_values=variables))["upsertProgress"]
        if result["__typename"] == "UpsertProgressSuccess":
            print(f"saved: {result['progress']['status']} at {result['progress']['videoPositionSeconds']} s")
        else:
            print(f"not saved: {result['__typename']} {result['code']}: {result['message']}")

    try:
        session.execute(gql("{ me { nam } }"))
    except TransportQueryError as error:  # the response's errors, each with a code
        print(f"refused: {', '.join(e['extensions']['code'] for e in error.errors or [])}")
