// Boots GraphiQL (the vendored UMD builds, loaded before this file) against this page's URL.
//
// The API key comes from the URL's fragment, /graphql#key=<key>: browsers never send a fragment
// to the server, so the key stays out of its logs. It is added to every request the fetcher makes,
// so the first schema introspection already carries it (no "Re-fetch GraphQL schema"), and it is
// prefilled in the header editor of new tabs; a header typed there wins over it.
(function () {
  "use strict";

  var key = (new URLSearchParams(window.location.hash.slice(1)).get("key") || "").trim();
  var url = window.location.origin + window.location.pathname;
  var auth = key ? { Authorization: "Bearer " + key } : {};

  // Short lines: the query editor is about 40 characters wide on a laptop.
  var withKey = [
    "# Signed in with the key in this page's",
    "# address (#key=…): see Headers below.",
    "# Ctrl-Enter or ▶ runs the query; Docs",
    "# (top left) lists the schema.",
    "{",
    "  me {",
    "    name",
    "    email",
    "  }",
    "}",
    "",
  ].join("\n");
  var withoutKey = [
    "# No API key in this page's address.",
    "# Open the link `gql-progress seed-demo`",
    "# printed (…/graphql#key=<key>), or add",
    '# {"Authorization": "Bearer <key>"}',
    "# under Headers below, then re-fetch the",
    "# schema (⟳, bottom left).",
    "{",
    "  me {",
    "    name",
    "  }",
    "}",
    "",
  ].join("\n");

  var props = {
    fetcher: GraphiQL.createFetcher({
      url: url,
      headers: auth,
      subscriptionUrl: url.replace(/^http/, "ws"),
      // graphql-transport-ws sends the key in connection_init (browsers set no WebSocket headers).
      wsConnectionParams: auth,
    }),
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    defaultQuery: key ? withKey : withoutKey,
    defaultHeaders: key ? JSON.stringify(auth, null, 2) : undefined,
    defaultEditorToolsVisibility: key ? "headers" : "variables",
    // Keys are secrets, and the demo's change on every seed-demo: never kept in localStorage.
    shouldPersistHeaders: false,
    inputValueDeprecation: true,
  };
  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQL, props));
})();
