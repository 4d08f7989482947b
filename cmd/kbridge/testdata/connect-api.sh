#!/usr/bin/env bash
# Drives a Kafka Connect worker's REST API the way kcctl and curl scripts do: apply a connector
# config file, validate it, describe, pause, resume, restart, stop, alter and reset offsets,
# change log levels, delete. Every answer is checked for Apache Kafka Connect's status code.
#
#   CONNECT=http://127.0.0.1:8083 SINK_URL=http://…/stream/{projectId}/{sourceId}/{secret} connect-api.sh
set -euo pipefail
: "${CONNECT:?set CONNECT to the Connect API URL}" "${SINK_URL:?set SINK_URL to a Keboola Data Streams intake URL}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect STATUS METHOD PATH [BODY]: sends the request as kcctl does (JSON in and out) and
# fails unless the answer has STATUS; the body is left in $tmp/body.
expect() {
	local want=$1 method=$2 path=$3 got
	local args=(-sS -o "$tmp/body" -w '%{http_code}' -X "$method" -H 'Accept: application/json')
	if [ $# -ge 4 ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$4")
	fi
	got=$(curl "${args[@]}" "$CONNECT$path")
	if [ "$got" != "$want" ]; then
		echo "FAIL $method $path: $got, want $want: $(cat "$tmp/body")"
		exit 1
	fi
	echo "ok   $method $path $got"
}

# has TEXT: fails unless the last answer contains TEXT.
has() {
	if ! grep -qF -- "$1" "$tmp/body"; then
		echo "FAIL: the answer lacks $1: $(cat "$tmp/body")"
		exit 1
	fi
}

# state NAME WANT: waits up to 30 s for the connector's state.
state() {
	for _ in $(seq 60); do
		expect 200 GET "/connectors/$1/status"
		if grep -qF "\"connector\":{\"state\":\"$2\"" "$tmp/body"; then return 0; fi
		sleep 0.5
	done
	echo "FAIL: connector $1 is not $2: $(cat "$tmp/body")"
	exit 1
}

# The worker.
expect 200 GET /
has '"kafka_cluster_id":"'
if grep -qF '"kafka_cluster_id":""' "$tmp/body"; then echo "FAIL: no cluster id"; exit 1; fi
expect 200 GET /health
has '"status":"healthy"'
expect 200 GET /connector-plugins
has '"class":"io.confluent.connect.http.HttpSinkConnector"'

# A Confluent HTTP sink config file, as kcctl apply -f orders.json reads it.
cat >"$tmp/orders.json" <<JSON
{"connector.class": "io.confluent.connect.http.HttpSinkConnector", "tasks.max": "2", "topics": "events",
 "http.api.url": "$SINK_URL", "batch.max.size": "100", "errors.deadletterqueue.topic.name": "orders-dlq",
 "key.converter": "org.apache.kafka.connect.storage.StringConverter"}
JSON
config=$(cat "$tmp/orders.json")

# Validate, by the plugin's alias; then a config without topics.
named=$(printf '%s' "$config" | sed 's/}$/, "name": "orders"}/')
expect 200 PUT /connector-plugins/HttpSink/config/validate "$named"
has '"error_count":0'
expect 200 PUT /connector-plugins/HttpSinkConnector/config/validate \
	'{"connector.class": "HttpSinkConnector", "name": "orders", "http.api.url": "'"$SINK_URL"'"}'
has '"error_count":2'
has 'Must configure one of topics or topics.regex'

# Apply: created, then applied again unchanged.
expect 201 PUT /connectors/orders/config "$config"
expect 200 PUT /connectors/orders/config "$config"
expect 200 GET /connectors
has '"orders"'
expect 200 GET '/connectors?expand=status&expand=info'
has '"tasks.max":"2"'
state orders RUNNING

# Describe and patch, as kcctl describe and kcctl patch do.
expect 200 GET /connectors/orders
has '"type":"sink"'
expect 200 GET /connectors/orders/topics
has '"orders":{"topics":['
expect 200 GET /connectors/orders/tasks
has '"task":1'
expect 200 PATCH /connectors/orders/config '{"batch.max.size": "200", "key.converter": null}'
has '"batch.max.size":"200"'
if grep -qF key.converter "$tmp/body"; then echo "FAIL: key.converter not removed"; exit 1; fi
state orders RUNNING

# Pause, resume, restart.
expect 202 PUT /connectors/orders/pause
state orders PAUSED
expect 202 PUT /connectors/orders/resume
state orders RUNNING
expect 204 POST /connectors/orders/restart
expect 202 POST '/connectors/orders/restart?includeTasks=true'
has '"state":"RESTARTING"'
expect 204 POST /connectors/orders/tasks/1/restart
state orders RUNNING

# Offsets: only while stopped.
expect 400 PATCH /connectors/orders/offsets \
	'{"offsets": [{"partition": {"kafka_topic": "events", "kafka_partition": 0}, "offset": {"kafka_offset": 0}}]}'
has "must be in the STOPPED state"
expect 204 PUT /connectors/orders/stop
state orders STOPPED
expect 200 GET /connectors/orders/offsets
has '"offsets":'
expect 200 PATCH /connectors/orders/offsets \
	'{"offsets": [{"partition": {"kafka_topic": "events", "kafka_partition": 0}, "offset": {"kafka_offset": 0}}]}'
has 'The offsets for this connector have been altered successfully'
expect 200 GET /connectors/orders/offsets
has '"kafka_offset":0'
expect 200 DELETE /connectors/orders/offsets
has 'The offsets for this connector have been reset successfully'
expect 202 PUT /connectors/orders/resume
state orders RUNNING

# Log levels: one component, then another across the cluster, then a level Connect refuses.
expect 200 GET /admin/loggers
has '"root":{"level":'
has '"kafka":{"level":'
expect 200 PUT /admin/loggers/kafka '{"level": "DEBUG"}'
has '["kafka"]'
expect 200 GET /admin/loggers/kafka
has '"level":"DEBUG"'
expect 204 PUT '/admin/loggers/connect?scope=cluster' '{"level": "INFO"}'
expect 404 PUT /admin/loggers/connect '{"level": "CHATTY"}'

# Delete.
expect 204 DELETE /connectors/orders
expect 404 GET /connectors/orders
echo "all calls answered as Kafka Connect answers them"
