// Package intake is kbridge's HTTP intake: Keboola's Data Streams endpoint
// POST /stream/{projectId}/{sourceId}/{secret}, so existing senders switch their URL and keep
// working.
//
// The server is fasthttp, as in Keboola's HTTP source; every answer but "OK" is the JSON
// envelope of bridge/httperr, also for requests fasthttp cannot read.
//
// The intake only builds events (body bytes, headers, client IP, receive time) and maps
// outcomes to HTTP; the sink manager renders and writes them. A body is one record, or, with
// Content-Type application/x-ndjson, one record per non-empty line, written all or nothing.
// docs/http.md lists every status and error name.
//
// Invariants:
//   - 200 means every enabled sink fsynced the records (sync.wait=true), 202 that at least
//     one sink only buffered them; anything else means nothing was acknowledged.
//   - A bad payload is a 4xx naming the reason (413, 415, 422), never a 500; a source with no
//     enabled sink is a 409, never a silent 200.
//   - Nothing queues without bound: a sink that cannot take records answers 503 with
//     Retry-After at once.
//   - Secrets are compared in constant time; X-Forwarded-For is believed only from the
//     configured proxy networks.
//   - The happy path logs nothing and reuses its buffers (sync.Pool); the sink keeps no
//     reference to a request's bytes after Write returns.
//   - The memory of a request is bounded by the limits, not by its line count: NDJSON is read
//     as a stream and refused as soon as a limit is passed.
//   - New starts nothing; Run/Serve own the accept loop and one goroutine per connection and
//     return only after every one ended and in-flight requests finished (or ShutdownTimeout
//     passed and their connections were closed).
package intake
