// Plain fetch, in Node 18+ or a browser (there, write your URL and key in place of process.env).
const url = process.env.API_URL ?? "http://127.0.0.1:8000/graphql";
const key = process.env.KEY; // an API key, e.g. the learner's that `make run` prints

async function graphql(query, variables = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json;q=0.9",
      Authorization: `Bearer ${key}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  // A request that ran nothing (bad key, bad document, a limit) or a field that failed:
  // errors, each with a code to act on.
  const { data, errors } = await response.json();
  if (errors) {
    const codes = errors.map((error) => error.extensions?.code);
    throw Object.assign(new Error(errors.map((error) => error.message).join("; ")), { codes });
  }
  return data;
}

const { me } = await graphql("{ me { name } }");
console.log(`signed in as ${me.name}`);

// A mutation's outcome is data: a success payload or one of the errors (all share Error).
const HEARTBEAT = `mutation Heartbeat($input: UpsertProgressInput!) {
  upsertProgress(input: $input) {
    __typename
    ... on UpsertProgressSuccess {
      progress { status videoPositionSeconds }
      summary { completionPercentage }
    }
    ... on Error { code message }
  }
}`;
for (const lessonId of ["TGVzc29uOjQ=", "TGVzc29uOjk5OQ=="]) {
  const { upsertProgress: result } = await graphql(HEARTBEAT, {
    input: { lessonId, videoPositionSeconds: 240 },
  });
  if (result.__typename === "UpsertProgressSuccess") {
    const { progress, summary } = result;
    console.log(
      `saved: ${progress.status} at ${progress.videoPositionSeconds} s, ` +
        `course ${summary.completionPercentage}%`,
    );
  } else {
    console.log(`not saved: ${result.__typename} ${result.code}: ${result.message}`);
  }
}

try {
  await graphql("{ me { nam } }");
} catch (error) {
  console.log(`refused: ${error.codes.join(", ")}`);
}
