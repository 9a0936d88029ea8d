// Preloaded (node --import) by tests/test_client_recipes.py to run the README's browser examples
// in Node 20: a browser's global WebSocket (Node 22 has one), and console.log writing one JSON
// line per call, for the test to read.
import WebSocket from "ws";

globalThis.WebSocket ??= WebSocket;
console.log = (...values) =>
  process.stdout.write(
    `${values.map((value) => (typeof value === "string" ? value : JSON.stringify(value))).join(" ")}\n`,
  );
