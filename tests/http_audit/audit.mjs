// graphql-http's GraphQL over HTTP server audit, against a running gql_progress server.
// Usage: AUDIT_KEY=<API key> node audit.mjs <url of /graphql>
// Prints one JSON array: {id, name, status ("ok" | "notice" | "warn" | "error"), reason}.
import { auditServer } from 'graphql-http';

const [url] = process.argv.slice(2);
const key = process.env.AUDIT_KEY;
if (!url || !key) {
  console.error('usage: AUDIT_KEY=<API key> node audit.mjs <url>');
  process.exit(2);
}

// Every request carries the key, as clients send it: without one only public documents run.
function fetchWithKey(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithKey });
console.log(
  JSON.stringify(
    results.map(({ id, name, status, reason }) => ({ id, name, status, reason: reason ?? null })),
  ),
);
