package connect

import (
	"net/http"
	"slices"

	"github.com/kbridge/kbridge/bridge/convert"
	"github.com/kbridge/kbridge/bridge/transform"
)

// keyDef is one config key as ConfigKeyInfo describes it.
type keyDef struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         string   `json:"group"`
	OrderInGroup  int      `json:"order_in_group"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
	Order         int      `json:"order"`
}

func def(group, name, typ, dflt, doc string) keyDef {
	d := keyDef{Name: name, Type: typ, Required: dflt == "-", Importance: "MEDIUM", Documentation: doc,
		Group: group, Width: "MEDIUM", DisplayName: name, Dependents: []string{}}
	if dflt != "-" {
		d.DefaultValue = &dflt
	}
	if d.Required {
		d.Importance = "HIGH"
	}
	return d
}

// keyDefs are the connector keys, Connect's own and kbridge's, in the order validate lists them.
var keyDefs = []keyDef{
	def("Common", "name", "STRING", "-", "Connector name; also the consumer group connect-<name>."),
	def("Common", "connector.class", "STRING", "-", "io.kbridge.KeboolaSinkConnector, or a Confluent or Aiven HTTP sink class."),
	def("Common", "tasks.max", "INT", "1", "Consumer group members, 1 to 64."),
	def("Common", "topics", "LIST", "", "Topics to consume; set topics or topics.regex."),
	def("Common", "topics.regex", "STRING", "", "Regular expression of topics to consume."),
	def("Common", "tasks.max.enforce", "BOOLEAN", "true", "Connect's key, checked; kbridge never runs more tasks than tasks.max."),
	nullDefault(def("Common", "key.converter", "CLASS", "", "Converter of record keys, with its keys under key.converter.*: StringConverter, ByteArrayConverter, JsonConverter, or Confluent's AvroConverter, ProtobufConverter, JsonSchemaConverter (schema.registry.url). Not set: keys are read as text.")),
	nullDefault(def("Common", "value.converter", "CLASS", "", "Converter of record values, with its keys under value.converter.*: as key.converter; decoded records become JSON for the mapping. Not set: values are read as JSON.")),
	nullDefault(def("Common", "header.converter", "CLASS", "", "SimpleHeaderConverter, StringConverter or ByteArrayConverter: record headers are read as bytes.")),
	def("Common", "config.action.reload", "STRING", "restart", "Connect's key, checked (none or restart); kbridge restarts a connector whose config changes."),
	def("Transforms", "transforms", "LIST", "", "Aliases of the single message transforms, run in order on each record before its mapping: Apache Kafka's transforms, each configured by transforms.<alias>.type and its keys."),
	def("Predicates", "predicates", "LIST", "", "Aliases of the predicates that transforms.<alias>.predicate names: TopicNameMatches, HasHeaderKey, RecordIsTombstone."),
	def("Error Handling", "errors.retry.timeout", "LONG", "0", "Accepted and ignored: Storage failures are retried with backoff until they succeed."),
	def("Error Handling", "errors.retry.delay.max.ms", "LONG", "60000", "Connect's key, checked and ignored."),
	def("Error Handling", "errors.tolerance", "STRING", "none", "none stops the connector at a bad record; all dead-letters it."),
	def("Error Handling", "errors.log.enable", "BOOLEAN", "false", "Accepted and ignored: errors are always logged."),
	def("Error Handling", "errors.log.include.messages", "BOOLEAN", "false", "Connect's key, checked and ignored."),
	def("Error Handling", "errors.deadletterqueue.topic.name", "STRING", "", "Dead-letter topic; used with errors.tolerance=all."),
	def("Error Handling", "errors.deadletterqueue.topic.replication.factor", "SHORT", "3", "Connect's key, checked and ignored: the dead-letter topic is not created by kbridge."),
	def("Error Handling", "errors.deadletterqueue.context.headers.enable", "BOOLEAN", "false", "Add the __connect.errors.* headers."),
	def("Error Handling", "behavior.on.null.values", "STRING", "ignore", "Tombstones: ignore or fail."),
	def("kbridge", "kbridge.source", "STRING", "", "The source whose sinks receive the records; set from a Data Streams http.api.url or http.url."),
	def("kbridge", "batch.max.size", "INT", "500", "Records per batch, 1 to 1000000."),
	def("kbridge", "kbridge.batch.max.bytes", "INT", "16777216", "Record bytes per batch."),
	def("kbridge", "kbridge.commit.level", "STRING", "target", "Level records reach before offsets are committed: local, staging or target."),
	def("kbridge", "max.retries", "INT", "-1", "Retries of a batch the sinks refuse (full disk, sink not ready) before the task fails; -1 retries until they take it."),
	def("kbridge", "retry.backoff.ms", "INT", "100", "First wait before retrying a refused batch; doubled at each retry up to 30 s."),
	nullDefault(def("kbridge", "topic2table.map", "STRING", "", "topic:table entries: each topic into a table of its own, created on first sight with the columns of the source's sink; a topic not named goes into a table named after it. Not set: every topic into the source's sinks.")),
	def("kbridge", "kbridge.partition.max.inflight", "INT", "100000", "Records per partition in flight before it is paused."),
	def("HTTP Sink", "http.api.url", "STRING", "", "Confluent HTTP sink URL; a Data Streams intake URL names the source."),
	def("HTTP Sink", "http.url", "STRING", "", "Aiven HTTP sink URL; a Data Streams intake URL names the source."),
	def("Consumer", "consumer.override.group.id", "STRING", "", "Consumer group; connect-<name> when empty."),
	def("Consumer", "consumer.override.auto.offset.reset", "STRING", "earliest", "earliest or latest."),
	def("Consumer", "consumer.override.group.instance.id", "STRING", "", "Static group membership id."),
	def("Consumer", "consumer.override.session.timeout.ms", "LONG", "", "Group session timeout."),
	def("Consumer", "consumer.override.heartbeat.interval.ms", "LONG", "", "Group heartbeat interval."),
	def("Consumer", "consumer.override.max.poll.interval.ms", "LONG", "", "Group rebalance timeout."),
}

var keyGroups = []string{"Common", "Transforms", "Predicates", "Error Handling", "kbridge", "HTTP Sink", "Consumer"}

// nullDefault is d with no default value, as Connect's keys whose default is null.
func nullDefault(d keyDef) keyDef {
	d.DefaultValue = nil
	return d
}

// keyOrder is the position of key in keyDefs; keys kbridge does not define come after them.
func keyOrder(key string) int {
	if i := slices.IndexFunc(keyDefs, func(d keyDef) bool { return d.Name == key }); i >= 0 {
		return i
	}
	return len(keyDefs)
}

// plugins lists the connector classes; with connectorsOnly=false also the converters, header
// converters, transformations and predicates kbridge runs, as Connect lists every plugin it has.
func (s *Server) plugins(w http.ResponseWriter, r *http.Request) error {
	out := make([]pluginInfo, len(classes))
	for i, c := range classes {
		out[i] = pluginInfo{Class: c, Type: "sink", Version: s.deps.Version}
	}
	if r.URL.Query().Get("connectorsOnly") == "false" {
		converters := convert.Classes()
		slices.Sort(converters)
		for _, c := range converters {
			if c != convert.SimpleHeaderConverter {
				out = append(out, pluginInfo{Class: c, Type: "converter", Version: s.deps.Version})
			}
		}
		for _, c := range []string{convert.ByteArrayConverter, convert.SimpleHeaderConverter, convert.StringConverter} {
			out = append(out, pluginInfo{Class: c, Type: "header_converter", Version: s.deps.Version})
		}
		transforms, predicates := transform.Classes()
		slices.Sort(transforms) // each type sorted by class, as Connect's plugin sets are
		slices.Sort(predicates)
		for _, c := range transforms {
			out = append(out, pluginInfo{Class: c, Type: "transformation", Version: s.deps.Version})
		}
		for _, c := range predicates {
			out = append(out, pluginInfo{Class: c, Type: "predicate", Version: s.deps.Version})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pluginConfig answers the keys of a connector class, given as Connect matches plugins.
func (s *Server) pluginConfig(w http.ResponseWriter, r *http.Request) error {
	plugin := r.PathValue("plugin")
	if _, ok := resolveClass(plugin); !ok {
		return errorf(http.StatusNotFound, "Unknown plugin %s.", plugin)
	}
	out := make([]keyDef, len(keyDefs))
	for i, d := range keyDefs {
		d.Order = i + 1
		out[i] = d
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
