package connect

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ownError is an error of one of Connect's own keys in Connect's words (ConfigDef,
// ConnectorConfig, SinkConnectorConfig.validate, AbstractHerder): the message names the key
// itself and is shown as is.
type ownError struct{ key, msg string }

func (e *ownError) Error() string { return e.msg }

// invalid is ConfigException's message: "Invalid value V for configuration K: why".
func invalid(key, value, why string) *ownError {
	return &ownError{key, fmt.Sprintf("Invalid value %s for configuration %s: %s", value, key, why)}
}

// nullValue is the error Connect puts on a key given as JSON null.
const nullValue = "Null value can not be supplied as the configuration value."

// Connect's sink connector keys by type (ConnectorConfig and SinkConnectorConfig), those
// kbridge checks as Connect's ConfigDef does.
var (
	connectBooleans = []string{"tasks.max.enforce", "errors.log.enable", "errors.log.include.messages",
		"errors.deadletterqueue.context.headers.enable"}
	connectLongs   = []string{"errors.retry.timeout", "errors.retry.delay.max.ms"}
	connectChoices = map[string][]string{"errors.tolerance": {"none", "all"}, "config.action.reload": {"none", "restart"}}
)

// connectErrors checks Connect's own keys of cfg as Connect's worker does and returns its
// errors in its words; cfg's null values are the deleted mark.
func connectErrors(cfg map[string]string) []error {
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(cfg)) {
		if cfg[key] == deleted {
			errs = append(errs, &ownError{key, nullValue})
		}
	}
	given := func(key string) (string, bool) {
		v, ok := cfg[key]
		return v, ok && v != deleted
	}
	for _, check := range []func(map[string]string, func(string) (string, bool)) []*ownError{nameErrors, typeErrors, aliasErrors} {
		for _, e := range check(cfg, given) {
			errs = append(errs, e)
		}
	}
	return append(errs, sinkErrors(cfg)...)
}

// nameErrors checks name: required, not empty, no control characters.
func nameErrors(cfg map[string]string, _ func(string) (string, bool)) []*ownError {
	v, ok := cfg["name"]
	switch {
	case !ok:
		return []*ownError{{"name", `Missing required configuration "name" which has no default value.`}}
	case v == deleted:
		return nil
	case v == "":
		return []*ownError{invalid("name", v, "String may not be empty")}
	case controlChars(v) != "":
		return []*ownError{invalid("name", v, "String may not contain control sequences but had the following ASCII chars: "+controlChars(v))}
	case v == "." || v == "..":
		return []*ownError{invalid("name", v, "A connector may not be named . or .., which are no path segment of its URL")}
	case strings.Contains(v, "/"):
		return []*ownError{invalid("name", v, "A connector name may not contain /, which splits its URL")}
	case !utf8.ValidString(v):
		return []*ownError{invalid("name", v, "A connector name must be UTF-8")}
	case len(url.PathEscape(v)) > maxNameFileBytes:
		return []*ownError{invalid("name", v, fmt.Sprintf("A connector name may take at most %d bytes once percent-encoded (it names the connector's file); this one takes %d",
			maxNameFileBytes, len(url.PathEscape(v))))}
	}
	return nil
}

// maxNameFileBytes bounds a connector name percent-encoded, as it names the connector's file
// (<name>.json, within the 255 bytes file systems take): 200 ASCII letters or 16 emoji.
const maxNameFileBytes = 200

// typeErrors checks the values of Connect's typed keys as ConfigDef.parseType and their
// validators do.
func typeErrors(_ map[string]string, given func(string) (string, bool)) []*ownError {
	var errs []*ownError
	if v, ok := given("tasks.max"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err != nil {
			errs = append(errs, invalid("tasks.max", v, "Not a number of type INT"), invalid("tasks.max", "null", "Value must be non-null"))
		} else if n < 1 {
			errs = append(errs, invalid("tasks.max", strconv.FormatInt(n, 10), "Value must be at least 1"))
		}
	}
	for _, key := range connectBooleans {
		if v, ok := given(key); ok {
			if t := strings.TrimSpace(v); !strings.EqualFold(t, "true") && !strings.EqualFold(t, "false") {
				errs = append(errs, invalid(key, v, "Expected value to be either true or false"))
			}
		}
	}
	numbers := map[string]int{"errors.deadletterqueue.topic.replication.factor": 16}
	for _, key := range connectLongs {
		numbers[key] = 64
	}
	for _, key := range slices.Sorted(maps.Keys(numbers)) {
		if v, ok := given(key); ok {
			if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, numbers[key]); err != nil {
				errs = append(errs, invalid(key, v, "Not a number of type "+map[int]string{16: "SHORT", 64: "LONG"}[numbers[key]]))
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(connectChoices)) {
		if v, ok := given(key); ok && !slices.Contains(connectChoices[key], strings.TrimSpace(v)) {
			errs = append(errs, invalid(key, strings.TrimSpace(v), "String must be one of: "+strings.Join(connectChoices[key], ", ")))
		}
	}
	if v, ok := given("topics.regex"); ok {
		if _, err := regexp.Compile(strings.TrimSpace(v)); err != nil {
			errs = append(errs, invalid("topics.regex", strings.TrimSpace(v), "Invalid regex: "+err.Error()))
		}
	}
	return errs
}

// aliasErrors checks transforms and predicates: no duplicate alias, and each alias's type
// given (ConnectorConfig's aliasValidator and enrich).
func aliasErrors(cfg map[string]string, given func(string) (string, bool)) []*ownError {
	var errs []*ownError
	for _, kind := range []string{"transforms", "predicates"} {
		v, ok := given(kind)
		if !ok {
			continue
		}
		aliases := javaList(v)
		if len(aliases) > len(uniq(aliases)) {
			errs = append(errs, invalid(kind, "["+strings.Join(aliases, ", ")+"]", "Duplicate alias provided."))
			continue
		}
		for _, a := range aliases {
			key := kind + "." + a + ".type"
			if _, ok := cfg[key]; !ok {
				errs = append(errs, &ownError{key, fmt.Sprintf("Missing required configuration %q which has no default value.", key)})
			}
		}
	}
	return errs
}

// sinkErrors are SinkConnectorConfig.validate's checks of topics, topics.regex and the
// dead-letter topic, each error on every key it involves.
func sinkErrors(cfg map[string]string) []error {
	var errs []error
	val := func(key string) string {
		if v := cfg[key]; v != deleted {
			return v
		}
		return ""
	}
	topics, regex, dlq := val("topics"), val("topics.regex"), strings.TrimSpace(val("errors.deadletterqueue.topic.name"))
	hasTopics, hasRegex := strings.TrimSpace(topics) != "", strings.TrimSpace(regex) != ""
	both := func(msg string) {
		errs = append(errs, &ownError{"topics", msg}, &ownError{"topics.regex", msg})
	}
	switch {
	case hasTopics && hasRegex:
		both("topics and topics.regex are mutually exclusive options, but both are set.")
	case !hasTopics && !hasRegex:
		both("Must configure one of topics or topics.regex")
	}
	if dlq == "" {
		return errs
	}
	if list := uniq(javaList(topics)); hasTopics && slices.Contains(list, dlq) {
		errs = append(errs, &ownError{"topics", fmt.Sprintf("The DLQ topic '%s' may not be included in the list of topics ('topics=[%s]') consumed by the connector",
			dlq, strings.Join(list, ", "))})
	}
	if re, err := regexp.Compile("^(?:" + regex + ")$"); hasRegex && err == nil && re.MatchString(dlq) {
		errs = append(errs, &ownError{"topics.regex", fmt.Sprintf("The DLQ topic '%s' may not be matched by the regex for the topics ('topics.regex=%s') consumed by the connector",
			dlq, regex)})
	}
	return errs
}

// javaList splits a LIST value as ConfigDef does: by commas, items trimmed, empty items kept
// out (SinkConnectorConfig.parseTopicsList).
func javaList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func uniq(items []string) []string {
	var out []string
	for _, it := range items {
		if !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	return out
}

func controlChars(s string) string {
	var found []string
	for _, r := range s {
		if unicode.IsControl(r) {
			found = append(found, strconv.Itoa(int(r)))
		}
	}
	return strings.Join(found, ", ")
}

// checkClass refuses a config without a known connector.class as Connect's herder does, before
// any key is checked: 400 naming the config, or the class and the classes there are.
func checkClass(cfg map[string]string) (string, *apiError) {
	class, ok := cfg["connector.class"]
	if !ok || class == deleted {
		parts := make([]string, 0, len(cfg))
		for _, k := range slices.Sorted(maps.Keys(cfg)) {
			v := cfg[k]
			if v == deleted {
				v = "null"
			}
			parts = append(parts, k+"="+v)
		}
		return "", errorf(http.StatusBadRequest, "Connector config {%s} contains no connector type", strings.Join(parts, ", "))
	}
	full, ok := resolveClass(strings.TrimSpace(class))
	if !ok {
		return "", errorf(http.StatusBadRequest, "Failed to find any class that implements Connector and which name matches %s, available connectors are: %s",
			class, strings.Join(classes, ", "))
	}
	return full, nil
}
