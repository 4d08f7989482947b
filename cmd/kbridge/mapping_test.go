package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMappingTestCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	columns := write("columns.json", `{"columns":[
		{"type":"path","name":"user","path":"user.name","rawString":true},
		{"type":"ip","name":"ip"},
		{"type":"template","name":"t","template":{"language":"jsonnet","content":"Header('X-Id', 'none') + '/' + Body('n')"}},
		{"type":"kafka.topic","name":"topic"}]}`)
	body := write("body.json", `{"user":{"name":"Ann, \"A\""},"n":"7"}`)
	bad := write("bad.json", `{"user":{}}`)
	badColumns := write("bad-columns.json", `[{"type":"path","name":"x","template":{"language":"jsonnet","content":"1"}}]`)
	typo := write("typo.json", `{"columns":[{"type":"body","name":"b"},{"type":"path","name":"a","pth":"x"}]}`)

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrIn string
	}{
		{"row", []string{"mapping", "test", "--columns", columns, "--body", body, "--header", "X-Id: r-1", "--ip", "10.0.0.9"},
			0, "\"Ann, \"\"A\"\"\",\"10.0.0.9\",\"\"\"r-1/7\"\"\",\"\"\n", ""},
		{"kafka", []string{"mapping", "test", "--columns", columns, "--body", body, "--kafka", "--topic", "orders"},
			0, "\"Ann, \"\"A\"\"\",\"127.0.0.1\",\"\"\"none/7\"\"\",\"orders\"\n", ""},
		{"json", []string{"mapping", "test", "--json", "--columns", columns, "--body", body},
			0, `{
  "columns": [
    {
      "name": "user",
      "value": "Ann, \"A\""
    },
    {
      "name": "ip",
      "value": "127.0.0.1"
    },
    {
      "name": "t",
      "value": "\"none/7\""
    },
    {
      "name": "topic",
      "value": ""
    }
  ]
}
`, ""},
		{"bad event", []string{"mapping", "test", "--columns", columns, "--body", bad}, 1, "",
			`kbridge mapping: invalid value for column "user": path "user.name" not found in the body`},
		{"bad columns", []string{"mapping", "test", "--columns", badColumns, "--body", body}, 1, "",
			`column 1 "x": template applies only to template columns`},
		{"misspelled key", []string{"mapping", "test", "--columns", typo, "--body", body}, 1, "",
			`columns[1].pth: unknown key; did you mean "path"?`},
		{"bad header", []string{"mapping", "test", "--columns", columns, "--body", body, "--header", "nocolon"}, 2, "",
			`want 'Name: value', got "nocolon"`},
		{"missing flags", []string{"mapping", "test", "--columns", columns}, 2, "", "--columns and --body are required"},
		{"no subcommand", []string{"mapping"}, 2, "", "usage: kbridge mapping test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || stdout.String() != tc.stdout || !strings.Contains(stderr.String(), tc.stderrIn) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
					code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderrIn)
			}
		})
	}
}
