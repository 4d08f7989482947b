// Package streamapi is kbridge's Stream API: Keboola's /v1 management API for sources, sinks,
// settings, tasks, the test endpoint and statistics, with the same paths, bodies and error
// envelope ({"statusCode", "error": "stream.api.<name>", "message"}), so tools written for
// Keboola's Stream API work against kbridge. docs/http.md lists what is implemented and how it
// differs.
//
// Sources and sinks map onto sink.Source and sink.Sink in the sink manager, which persists
// them. Every request is authenticated with X-StorageApi-Token, verified with the Storage API
// and, for reads, cached for Config.TokenCacheTTL; writes need an admin (master) token, verified
// afresh. The token's project scopes every key.
//
// Invariants:
//   - Definition changes are serialised (one at a time), so a check such as "already exists"
//     and the write that follows cannot interleave with another change. A request is
//     authenticated before it waits for its turn: a caller without an admin token never holds
//     up a change.
//   - An operation Keboola runs as a task runs before the answer: the 202 carries the
//     finished task, which GET /v1/tasks/{taskId} returns until Config.TaskTTL passes.
//   - Secrets are 48 characters of [0-9a-zA-Z] from crypto/rand and appear only in the
//     source's http.url, answered to admin tokens; other tokens read [hidden] in its place.
//   - New starts nothing; Run/Serve own the HTTP server goroutine and return after it stopped.
package streamapi
