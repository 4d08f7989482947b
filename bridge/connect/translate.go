package connect

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/bridge/strict"
	"github.com/kbridge/kbridge/sink"
)

// Connector classes kbridge accepts. The HTTP sinks are accepted so their configs move over
// unchanged; kbridge writes into Keboola Storage either way.
const (
	ClassKbridge   = "io.kbridge.KeboolaSinkConnector"
	ClassConfluent = "io.confluent.connect.http.HttpSinkConnector"
	ClassAiven     = "io.aiven.kafka.connect.http.HttpSinkConnector"
)

var classes = []string{ClassKbridge, ClassConfluent, ClassAiven}

// resolveClass returns the full class name of a class given as Connect matches plugins: fully,
// by its simple name, or by its simple name without the "Connector" suffix.
func resolveClass(name string) (string, bool) {
	for _, c := range classes {
		if name == c || !strings.Contains(name, ".") && name != "" &&
			(strings.HasSuffix(c, "."+name) || strings.HasSuffix(c, "."+name+"Connector")) {
			return c, true
		}
	}
	return "", false
}

// SourceLookup finds a kbridge source; *sink.Manager implements it. It may be called concurrently.
type SourceLookup interface {
	Source(k sink.SourceKey) (sink.Source, bool)
}

// translator turns a connector config into a pipeline.
type translator struct {
	projectID, branchID int64
	sources             SourceLookup // nil: intake URLs are not checked against sources
}

// httpOnlyKeys are HTTP sink keys with no meaning when records go to Storage.
var httpOnlyKeys = []string{"request.method", "headers", "header.separator", "sensitive.headers",
	"batch.key.pattern", "regex.patterns", "regex.replacements", "regex.separator",
	"retry.backoff.policy", "retry.on.status.codes", "http.connect.timeout.ms", "http.request.timeout.ms",
	"http.timeout", "behavior.on.error", "report.errors.as", "auth.type", "connection.user",
	"connection.password", "http.authorization.type", "http.headers.authorization",
	"http.headers.content.type", "http.headers.additional", "decimal.format", "kafka.retry.backoff.ms"}

// pipeline checks config and returns its pipeline and warnings. The error joins one error per
// bad key: Connect's own keys are checked as Connect checks them, in its words (ownError),
// kbridge's keys beside them, each error starting with the key (see keyErrors). The connector
// class is checked apart, by checkClass. A null value (the deleted mark) is an error on its key.
func (t translator) pipeline(config map[string]string) (kafka.Pipeline, []string, error) {
	own := connectErrors(config)
	ownKeys := map[string]bool{}
	for _, e := range own {
		ownKeys[e.(*ownError).key] = true
	}
	keys := maps.Clone(config)
	maps.DeleteFunc(keys, func(_, v string) bool { return v == deleted })
	errs := own
	var warnings []string
	if dlq := strings.TrimSpace(keys["errors.deadletterqueue.topic.name"]); dlq != "" && strings.TrimSpace(keys["errors.tolerance"]) != "all" {
		delete(keys, "errors.deadletterqueue.topic.name") // Connect accepts it; nothing is dead-lettered
		warnings = append(warnings, "errors.deadletterqueue.topic.name: ignored: errors.tolerance is not all, so a bad record stops the connector")
	}
	if n, err := strconv.Atoi(strings.TrimSpace(keys["tasks.max"])); err == nil && n > maxTasks {
		keys["tasks.max"] = strconv.Itoa(maxTasks) // a connector may run fewer tasks than tasks.max
		warnings = append(warnings, fmt.Sprintf("tasks.max: %d tasks run: kbridge runs at most %d consumer group members per connector", maxTasks, maxTasks))
	}
	urlFailed := false // kbridge.source is then unknown, not missing
	for _, key := range []string{"http.api.url", "http.url"} {
		raw, ok := keys[key]
		if !ok {
			continue
		}
		delete(keys, key)
		if _, set := keys["kbridge.source"]; set {
			warnings = append(warnings, key+": ignored: kbridge.source is set")
			continue
		}
		source, err := t.sourceOfURL(key, raw)
		if err != nil {
			errs, urlFailed = append(errs, err), true
			continue
		}
		keys["kbridge.source"] = source
	}
	for k := range keys {
		if slices.Contains(httpOnlyKeys, k) || strings.HasPrefix(k, "oauth2.") || strings.HasPrefix(k, "reporter.") ||
			strings.HasPrefix(k, "https.") || strings.HasPrefix(k, "http.") || strings.HasPrefix(k, "confluent.") {
			delete(keys, k)
			warnings = append(warnings, k+": ignored: records go to Keboola Storage, not to an HTTP endpoint")
		}
	}
	for _, k := range connectOnlyKeys {
		delete(keys, k) // checked above as Connect checks them; no meaning for kbridge's consumer
	}
	p, more, err := kafka.ParsePipeline(keys)
	warnings = append(warnings, more...)
	slices.Sort(warnings)
	topicKeys := ownKeys["topics"] || ownKeys["topics.regex"]
	for _, e := range splitErrors(err) {
		key, _, _ := strings.Cut(e.Error(), ": ")
		switch {
		case urlFailed && key == "kbridge.source", ownKeys[key]:
		case ownKeys["transforms"] && strings.HasPrefix(key, "transforms."), ownKeys["predicates"] && strings.HasPrefix(key, "predicates."):
			// Connect's check of the alias list failed: its aliases' keys are not checked
		case key == "topics" || key == "topics.regex" || key == "errors.deadletterqueue.topic.name":
			if !topicKeys { // Connect's own checks of these keys found nothing: kbridge's may
				errs = append(errs, e)
			}
		default:
			errs = append(errs, e)
		}
	}
	return p, warnings, errors.Join(errs...)
}

// unknownKeys is an error per key of a connector file that nothing reads, naming the file and
// the key and suggesting the key it most likely means.
func unknownKeys(file string, unknown []string) error {
	if len(unknown) == 0 {
		return nil
	}
	known := kafka.KnownKeys()
	for _, d := range keyDefs {
		known = append(known, d.Name)
	}
	known = append(known, httpOnlyKeys...)
	errs := make([]error, len(unknown))
	for i, key := range unknown {
		errs[i] = strict.Unknown(file+": "+key, key, known)
	}
	return errors.Join(errs...)
}

// maxTasks is the most consumer group members a connector runs (kafka.ParsePipeline's bound).
const maxTasks = 64

// connectOnlyKeys are Connect's keys that kbridge checks as Connect does and otherwise
// ignores: its consumer has no use for them.
var connectOnlyKeys = []string{"tasks.max.enforce", "config.action.reload", "errors.retry.delay.max.ms",
	"errors.log.include.messages", "errors.deadletterqueue.topic.replication.factor"}

// sourceOfURL reads a Data Streams intake URL, .../stream/{projectId}/{sourceId}/{secret}, and
// returns its source id after checking the project and, when the source is known, its secret.
func (t translator) sourceOfURL(key, raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 4 || parts[len(parts)-4] != "stream" {
		return "", fmt.Errorf("%s: not a Keboola Data Streams URL (…/stream/{projectId}/{sourceId}/{secret}); set kbridge.source instead", key)
	}
	project, source, secret := parts[len(parts)-3], parts[len(parts)-2], parts[len(parts)-1]
	if id, err := strconv.ParseInt(project, 10, 64); err != nil || t.projectID != 0 && id != t.projectID {
		return "", fmt.Errorf("%s: project %q is not this daemon's project %d", key, project, t.projectID)
	}
	if t.sources == nil {
		return source, nil
	}
	src, ok := t.sources.Source(sink.SourceKey{ProjectID: t.projectID, BranchID: t.branchID, SourceID: source})
	if !ok {
		return "", fmt.Errorf("%s: source %q not found", key, source)
	}
	if src.Secret != "" && src.Secret != secret {
		return "", fmt.Errorf("%s: the secret does not match source %q", key, source)
	}
	return source, nil
}
