// Apollo Client 4 in Node 20.10+ (for the JSON import); in a browser app, the same.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
// Written by `gql-progress export-possible-types`: copy it into your app with each schema change.
import possibleTypes from "./possible-types.json" with { type: "json" };

const client = new ApolloClient({
  link: new HttpLink({
    uri: process.env.API_URL ?? "http://127.0.0.1:8000/graphql",
    headers: { Authorization: `Bearer ${process.env.KEY}` },
  }),
  // Without possibleTypes the cache cannot know that a NotFoundError is an Error, and
  // `... on Error { code message }` arrives as { __typename: "NotFoundError" } alone.
  cache: new InMemoryCache({ possibleTypes }),
});

const BUNDLE_PROGRESS = gql`
  query BundleProgress($slug: String!) {
    bundleProgress(bundle: { slug: $slug }) {
      __typename
      ... on BundleProgress { title completionPercentage }
      ... on Error { code message }
    }
  }
`;
for (const slug of ["data-skills-track", "no-such-bundle"]) {
  const { data } = await client.query({ query: BUNDLE_PROGRESS, variables: { slug } });
  console.log(JSON.stringify(data.bundleProgress));
}

const HEARTBEAT = gql`
  mutation Heartbeat($input: UpsertProgressInput!) {
    upsertProgress(input: $input) {
      __typename
      ... on UpsertProgressSuccess { progress { id status videoPositionSeconds } }
      ... on Error { code message }
    }
  }
`;
const { data } = await client.mutate({
  mutation: HEARTBEAT,
  variables: { input: { lessonId: "TGVzc29uOjk5OQ==", videoPositionSeconds: 240 } },
});
console.log(JSON.stringify(data.upsertProgress));
