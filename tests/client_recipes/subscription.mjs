// Live progress with the graphql-ws client in Node 18+. In a browser, leave out `ws` and
// webSocketImpl: the page's own WebSocket is used.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const client = createClient({
  // The same path as HTTP; ws:// for http://, wss:// for https://.
  url: (process.env.API_URL ?? "http://127.0.0.1:8000/graphql").replace(/^http/, "ws"),
  webSocketImpl: WebSocket,
  // A browser cannot set headers on a WebSocket: the key goes in connection_init's payload.
  connectionParams: { Authorization: `Bearer ${process.env.KEY}` },
});

const updates = client.iterate({
  query: `subscription Progress($courseId: ID!) {
    progressUpdated(courseId: $courseId) {
      progress { lesson { title } status videoPositionSeconds }
      summary { completionPercentage }
    }
  }`,
  variables: { courseId: "Q291cnNlOjE=" },
});
console.log("listening: send a heartbeat for a lesson of intro-to-sql (fetch.mjs sends one)");
// Updates are live only, nothing is replayed: subscribe first, then read the current state.
for await (const { data, errors } of updates) {
  if (errors) throw new Error(errors.map((e) => `${e.extensions?.code}: ${e.message}`).join("; "));
  const { progress, summary } = data.progressUpdated;
  console.log(
    `${progress.lesson.title}: ${progress.status} at ${progress.videoPositionSeconds} s, ` +
      `course ${summary.completionPercentage}%`,
  );
  break; // one is enough here; a page keeps listening (leaving the loop ends the subscription)
}
await client.dispose();
