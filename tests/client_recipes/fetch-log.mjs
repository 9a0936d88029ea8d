// Preloaded (node --import) by tests/test_client_recipes.py: prints, before each request a recipe
// makes, its method and whether it carries the document's text, for the test to read.
const send = globalThis.fetch;
globalThis.fetch = (url, options = {}) => {
  const method = options.method ?? "GET";
  const text = method === "GET" ? new URL(url).searchParams.has("query") : String(options.body).includes('"query"');
  process.stdout.write(`fetch ${method} ${text ? "with the document" : "hash only"}\n`);
  return send(url, options);
};
