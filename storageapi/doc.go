// Package storageapi is a client for the part of the Keboola Storage API that kbridge
// uses: the stack index and token verification, buckets, tables, sliced files and their
// upload to the cloud backend Storage hands out (Azure Blob, Google Cloud Storage, AWS S3),
// asynchronous table import, job polling and events.
//
// It is a leaf: it knows nothing about sinks, slices or Kafka, and imports nothing internal.
//
// Invariants:
//   - Every call takes a context and honours its cancellation, also while waiting to retry.
//   - Requests are retried with exponential backoff and jitter on network errors, 5xx, 408
//     and 429 (a Retry-After header is a lower bound of the wait); other 4xx are never retried.
//   - Every failure from the Storage API or an upload backend is a *Error carrying the HTTP
//     status, the service's error code and the request id; callers branch with errors.Is on
//     the sentinels (ErrNotFound, ErrAlreadyExists, ...).
//   - A Client is safe for concurrent use and starts no goroutines.
//   - Object names of sliced files are the prepared key plus the slice name, without a
//     separator, and the manifest is "{key}manifest"; UploadManifest rewrites it completely.
package storageapi
