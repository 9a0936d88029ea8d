// PostGraphile v5 as the benchmark's peer (bench/peer.py starts it; bench/README.md explains it).
//
// The amber preset over the bench database's `public` schema, as a team would first deploy it:
// no JWT, no pgSettings, no role switching, so every request runs as the connecting superuser
// with no authentication at all (gql_progress checks an API key on every request).
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const connectionString = process.env.BENCH_PG_URL;
const port = Number(process.env.BENCH_PORT);
if (!connectionString || !port) {
  throw new Error("BENCH_PG_URL and BENCH_PORT must be set (bench/peer.py sets them)");
}

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // Amber exposes a relation, condition or order only where an index backs it, and it ignores
  // partial indexes. The project's index for "a course's lessons by position" is partial
  // (removed_at IS NULL), so with this plugin on, Course.lessonsByCourseId would not exist.
  // Without it every relation, condition and order is exposed; the documents the bench sends
  // use only indexed paths (EXPLAIN shows index scans).
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      // pg's default, stated: one process, at most 10 connections.
      poolConfig: { max: 10 },
    }),
  ],
  grafserv: { host: "127.0.0.1", port, graphiql: false, watch: false },
  grafast: { explain: false },
};

export default preset;
