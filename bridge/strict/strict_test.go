package strict_test

import (
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kbridge/kbridge/bridge/strict"
)

type column struct {
	Type string `yaml:"type"`
	Path string `yaml:"path,omitempty"`
}

type config struct {
	Pipelines []map[string]string `yaml:"pipelines"`
	Sinks     []struct {
		Columns []column `yaml:"columns"`
	} `yaml:"sinks"`
	Log struct {
		Level string `yaml:"level"`
	} `yaml:"log"`
	Skipped string `yaml:"-"`
}

func TestYAML(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ doc, want string }{
		{"pipelines: [{topicz: a}]\nlog: {level: info}", ""}, // a map's keys are its owner's to check
		{"pipeline: [{topics: a}]", `pipeline: unknown key; did you mean "pipelines"?`},
		{"sinks: [{columns: [{type: path}, {type: path, pth: a.b}]}]", `sinks[0].columns[1].pth: unknown key; did you mean "path"?`},
		{"log: {levle: debug}", `log.levle: unknown key; did you mean "level"?`},
		{"log: {format: json}", `log.format: unknown key`},
		{"skipped: x", `skipped: unknown key`},
		{"a: &x {level: info}\nlog: *x", `a: unknown key`},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tc.doc), &doc); err != nil {
			t.Fatal(err)
		}
		errs := strict.YAML(&doc, reflect.TypeOf(config{}))
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if got != tc.want || len(errs) > 1 {
			t.Errorf("%s: errors %v, want %q", tc.doc, errs, tc.want)
		}
	}
}

func TestNearest(t *testing.T) {
	t.Parallel()
	known := []string{"topics", "topics.regex", "kbridge.source", "tasks.max"}
	for word, want := range map[string]string{
		"topicz": "topics", "Topics": "topics", "topics.regx": "topics.regex", "kbridge.sources": "kbridge.source",
		"task.max": "tasks.max", "colour": "", "": "",
	} {
		if got := strict.Nearest(word, known); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	type col struct {
		Type string `json:"type"`
		Path string `json:"path,omitempty"`
	}
	type doc struct {
		Columns []col `json:"columns"`
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"columns":[{"type":"body"}]}`, ""},
		{`{"columns":[{"type":"body"},{"type":"path","pth":"a"}]}`, `columns[1].pth: unknown key; did you mean "path"?`},
		{`{"colums":[]}`, `colums: unknown key; did you mean "columns"?`},
		{`{"columns":`, ""}, // not JSON: decoding says why
	} {
		errs := strict.JSON([]byte(tc.doc), reflect.TypeOf(doc{}))
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if got != tc.want || len(errs) > 1 {
			t.Errorf("%s: errors %v, want %q", tc.doc, errs, tc.want)
		}
	}
}
