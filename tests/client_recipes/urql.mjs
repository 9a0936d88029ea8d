// urql's core client in Node 18+; in a browser (or with @urql/vue, @urql/svelte…), the same client.
import { Client, cacheExchange, fetchExchange, gql } from "@urql/core";

const client = new Client({
  url: process.env.API_URL ?? "http://127.0.0.1:8000/graphql",
  // The document cache keeps results as they came, so `... on Error` needs nothing more. The
  // normalising @urql/exchange-graphcache does: give it `schema` (an introspection result) or
  // `possibleTypes` from the same file as Apollo's.
  exchanges: [cacheExchange, fetchExchange],
  fetchOptions: () => ({ headers: { Authorization: `Bearer ${process.env.KEY}` } }),
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
  const { data, error } = await client.query(BUNDLE_PROGRESS, { slug }).toPromise();
  if (error) throw error; // a CombinedError: error.graphQLErrors[i].extensions.code, or networkError
  console.log(JSON.stringify(data.bundleProgress));
}

const { error } = await client.query(gql`{ me { nam } }`, {}).toPromise();
console.log(`refused: ${error.graphQLErrors.map((e) => e.extensions.code).join(", ")}`);
