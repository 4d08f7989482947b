// Package daemon runs kbridge: it loads the configuration, starts the sink pipelines, the Kafka
// pipelines and the HTTP listeners, and stops them in order.
//
// Startup: verify the Storage token, open the sink manager (recovering local state), apply the
// configured source and sink definitions, start the levels, then the Kafka pipelines and the
// HTTP listeners. Shutdown, on SIGTERM: stop taking HTTP requests, stop polling Kafka (what is
// done is committed), flush and fsync the local level and persist its state, close the
// listeners. A Kafka pipeline that fails is restarted with backoff.
package daemon
