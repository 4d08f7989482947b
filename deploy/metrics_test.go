package deploy_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// registeredMetrics finds every metric the code defines: the Name of each prometheus
// CounterOpts, GaugeOpts, HistogramOpts or SummaryOpts literal, and the name given to each
// prometheus.NewDesc (a collector's metric, kind "Desc"), in the module's non-test Go files.
func registeredMetrics(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".." || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if name, ok := newDescName(n); ok {
				out[name] = "Desc"
				return true
			}
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, isIdent := sel.X.(*ast.Ident); !isIdent || x.Name != "prometheus" || !strings.HasSuffix(sel.Sel.Name, "Opts") {
				return true
			}
			for _, e := range lit.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if key, isIdent := kv.Key.(*ast.Ident); !isIdent || key.Name != "Name" {
					continue
				}
				if s, ok := kv.Value.(*ast.BasicLit); ok && s.Kind == token.STRING {
					name, _ := strconv.Unquote(s.Value)
					out[name] = strings.TrimSuffix(sel.Sel.Name, "Opts")
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newDescName returns the metric name of a prometheus.NewDesc("kbridge_…", …) call.
func newDescName(n ast.Node) (string, bool) {
	call, ok := n.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "NewDesc" {
		return "", false
	}
	if x, isIdent := sel.X.(*ast.Ident); !isIdent || x.Name != "prometheus" {
		return "", false
	}
	s, ok := call.Args[0].(*ast.BasicLit)
	if !ok || s.Kind != token.STRING {
		return "", false
	}
	name, err := strconv.Unquote(s.Value)
	return name, err == nil
}

var metricName = regexp.MustCompile(`\bkbridge_[a-z0-9_]+`)

// known reports whether name is a registered metric or one of the series of a histogram.
func known(registered map[string]string, name string) bool {
	if _, ok := registered[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && (registered[base] == "Histogram" || registered[base] == "Summary") {
			return true
		}
	}
	return false
}

// Every kbridge_* name in the dashboard, the alert rules and the docs is one the code
// registers, and docs/metrics.md describes every registered metric.
func TestMetricNamesExist(t *testing.T) {
	t.Parallel()
	registered := registeredMetrics(t)
	for _, want := range []string{"kbridge_kafka_consumer_lag", "kbridge_kafka_records_total", "kbridge_sink_records_total", "kbridge_intake_requests_total"} {
		if _, ok := registered[want]; !ok {
			t.Fatalf("the code scan did not find %s; found %v", want, registered)
		}
	}
	files := []string{"grafana/kbridge.json", "prometheus/alerts.yaml", "../README.md"}
	docs, _ := filepath.Glob("../docs/*.md")
	for _, path := range append(files, docs...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range metricName.FindAllString(string(data), -1) {
			if !known(registered, name) {
				t.Errorf("%s uses %s, which the code does not register", path, name)
			}
		}
	}
	reference, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, kind := range registered {
		if !strings.Contains(string(reference), "`"+name+"`") {
			t.Errorf("docs/metrics.md does not describe %s (%s)", name, kind)
		}
	}
	if !strings.Contains(string(reference), "kbridge_") {
		t.Fatal("docs/metrics.md names no metric")
	}
}

func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("grafana/kbridge.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || len(dash.Panels) < 10 {
		t.Fatalf("dashboard uid %q with %d panels", dash.UID, len(dash.Panels))
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if !balanced(q.Expr) {
				t.Errorf("panel %q: unbalanced brackets in %s", p.Title, q.Expr)
			}
			for _, name := range metricName.FindAllString(q.Expr, -1) {
				used[name] = true
			}
		}
	}
	for _, want := range []string{"kbridge_kafka_consumer_lag", "kbridge_sink_import_jobs_total", "kbridge_sink_disk_bytes",
		"kbridge_intake_requests_total", "kbridge_kafka_pipeline_failures_total"} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// Every alert has a severity, a summary, a query that names kbridge metrics, and a runbook
// section in docs/operations.md.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	data, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			switch {
			case r.Alert == "" || r.Expr == "":
				t.Errorf("group %s: a rule without alert or expr", g.Name)
			case !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]):
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			case r.Annotations["summary"] == "" || r.Annotations["description"] == "":
				t.Errorf("%s: no summary or description", r.Alert)
			case !balanced(r.Expr):
				t.Errorf("%s: unbalanced brackets in %s", r.Alert, r.Expr)
			case !metricName.MatchString(r.Expr) && !strings.Contains(r.Expr, "kubelet_volume_stats"):
				t.Errorf("%s: the query names no kbridge metric", r.Alert)
			case r.Annotations["runbook"] != "docs/operations.md#"+strings.ToLower(r.Alert):
				t.Errorf("%s: runbook %q", r.Alert, r.Annotations["runbook"])
			case !strings.Contains(string(ops), "\n#### "+r.Alert+"\n"):
				t.Errorf("%s: docs/operations.md has no section \"#### %s\"", r.Alert, r.Alert)
			}
		}
	}
	for _, want := range []string{"KbridgeConsumerLagHigh", "KbridgeImportFailing", "KbridgeNotImporting", "KbridgeLocalDiskFull",
		"KbridgeIntakeErrors", "KbridgePipelineRestarting", "KbridgeBackPressure"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s", want)
		}
	}
}

// balanced reports whether the (), [] and {} of a query pair up, outside quoted strings.
func balanced(expr string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	quoted := false
	for _, r := range expr {
		switch {
		case r == '"':
			quoted = !quoted
		case quoted:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !quoted
}
