package mapping

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
	"github.com/google/go-jsonnet/formatter"
)

// noDefault is the default-parameter sentinel of Body and Header: the natives see it when the
// template gave no default, so a missing value is an error rather than null.
const noDefault = "kbridge:no-default:4f1d7c"

// prelude defines the template globals for record __i and template column number %d. It is one
// line and the template starts on the next, so line numbers shift by exactly one.
const prelude = `local Ip() = std.native("kb_ip")(__i); ` +
	`local Now(format=null) = std.native("kb_now")(__i, format); ` +
	`local Body(path=null, default="` + noDefault + `") = std.native("kb_body")(__i, %[1]d, path, default); ` +
	`local BodyStr() = std.native("kb_bodystr")(__i); ` +
	`local Header(name=null, default="` + noDefault + `") = std.native("kb_header")(__i, %[1]d, name, default); ` +
	`local HeaderStr() = std.native("kb_headerstr")(__i); ` +
	`local Topic() = std.native("kb_topic")(__i); ` +
	`local Partition() = std.native("kb_partition")(__i); ` +
	`local Offset() = std.native("kb_offset")(__i); ` +
	`local Key() = std.native("kb_key")(__i); ` +
	`local Timestamp(format=null) = std.native("kb_timestamp")(__i, format);` + "\n"

// buildProgram wraps template contents into one program that renders a whole batch: an array
// with, per event, an array of the templates' values. The event count comes from kb_count.
func buildProgram(contents []string) string {
	var b strings.Builder
	b.WriteString(`local __row(__i) = [`)
	for k, content := range contents {
		if k > 0 {
			b.WriteString("\n, ")
		}
		fmt.Fprintf(&b, "("+prelude, k)
		b.WriteString(content)
		b.WriteString("\n)")
	}
	b.WriteString("\n]; [__row(i) for i in std.range(0, std.native(\"kb_count\")() - 1)]\n")
	return b.String()
}

// checkSyntax parses a template on its own, so a syntax error points into the template rather
// than into the program wrapped around it.
func checkSyntax(name, content string) error {
	if _, err := formatter.Format(name, content, formatter.DefaultOptions()); err != nil {
		return fmt.Errorf("template is invalid: %s", firstLine(err.Error()))
	}
	return nil
}

// parseProgram parses a program; name labels its error messages, whose line numbers are made
// the template's own again.
func parseProgram(name, program string) (ast.Node, error) {
	node, err := jsonnet.SnippetToAST(name, program)
	if err != nil {
		msg := firstLine(err.Error())
		if m := errorLine.FindStringSubmatchIndex(msg); m != nil && msg[m[2]:m[3]] == name+":" {
			line, _ := strconv.Atoi(msg[m[4]:m[5]])
			msg = msg[:m[4]] + strconv.Itoa(line-1) + msg[m[5]:]
		}
		return nil, fmt.Errorf("template is invalid: %s", msg)
	}
	return node, nil
}

// errorLine finds the line number in a go-jsonnet location: "name:3:5-9" or "name:(3:5)-(4:1)".
var errorLine = regexp.MustCompile(`^(.*?:)\(?(\d+):`)

// firstLine keeps an error's message without go-jsonnet's stack trace.
func firstLine(s string) string {
	s = strings.TrimPrefix(s, "RUNTIME ERROR: ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// plainBody matches a template that is only Body("a.b") (or with single quotes), which runs as
// a path column: a gjson lookup instead of a Jsonnet evaluation.
var plainBody = regexp.MustCompile(`^\s*Body\(\s*(?:"([^"\\]+)"|'([^'\\]+)')\s*\)\s*$`)

// plainBodyPath returns the path of a template that is only Body("path").
func plainBodyPath(content string) (string, bool) {
	m := plainBody.FindStringSubmatch(content)
	if m == nil {
		return "", false
	}
	return m[1] + m[2], true
}
