// Apollo Client 4 with automatic persisted queries: each query is sent as its SHA-256 hash, by
// GET (a CDN may cache it), and with its text only the first time this server sees it.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { createHash } from "node:crypto"; // in a browser: the `crypto-hash` package's sha256
import possibleTypes from "./possible-types.json" with { type: "json" };

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

const client = new ApolloClient({
  link: new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({
      uri: process.env.API_URL ?? "http://127.0.0.1:8000/graphql",
      headers: { Authorization: `Bearer ${process.env.KEY}` },
    }),
  ),
  cache: new InMemoryCache({ possibleTypes }),
});

const ME = gql`
  query Me {
    me { name }
  }
`;
for (const visit of [1, 2]) {
  const { data } = await client.query({ query: ME, fetchPolicy: "network-only" });
  console.log(JSON.stringify(data.me));
}
