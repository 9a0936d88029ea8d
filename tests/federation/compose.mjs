// Composes gql_progress's subgraph SDL (the file named by the first argument, as its
// `_service { sdl }` answered) with a second subgraph, the platform's, that owns a field of
// User; prints {"errors": [...], "hints": [...], "supergraphSdl": ...} as JSON.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

// The platform's subgraph: its own field on our User, joined by our global id, and a User
// reached by its externalId from the platform's own type.
const PLATFORM_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

  type User @key(fields: "id") @key(fields: "externalId") {
    id: ID!
    externalId: String!
    platformPlan: String
  }

  type Account {
    id: ID!
    learner: User
  }

  type Query {
    account(id: ID!): Account
  }
`;

const progressSdl = readFileSync(process.argv[2], "utf8");
const result = composeServices([
  { name: "progress", url: "http://progress.invalid/graphql", typeDefs: parse(progressSdl) },
  { name: "platform", url: "http://platform.invalid/graphql", typeDefs: parse(PLATFORM_SDL) },
]);
console.log(
  JSON.stringify({
    errors: (result.errors ?? []).map((error) => error.message),
    hints: (result.hints ?? []).map((hint) => hint.message),
    supergraphSdl: result.supergraphSdl ?? null,
  }),
);
