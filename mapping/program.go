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

// globals are the template functions. Each is defined for record __i and template column
// number {k} by calling a native bound once per evaluation (the __kb_* locals).
var globals = []struct{ name, def string }{
	{"Ip", `Ip() = __kb_ip(__i)`},
	{"Now", `Now(format=null) = __kb_now(__i, format)`},
	{"Body", `Body(path=null, default="` + noDefault + `") = __kb_body(__i, {k}, path, default)`},
	{"BodyStr", `BodyStr() = __kb_bodystr(__i)`},
	{"Header", `Header(name=null, default="` + noDefault + `") = __kb_header(__i, {k}, name, default)`},
	{"HeaderStr", `HeaderStr() = __kb_headerstr(__i)`},
	{"Topic", `Topic() = __kb_topic(__i)`},
	{"Partition", `Partition() = __kb_partition(__i)`},
	{"Offset", `Offset() = __kb_offset(__i)`},
	{"Key", `Key() = __kb_key(__i)`},
	{"Timestamp", `Timestamp(format=null) = __kb_timestamp(__i, format)`},
}

// identifier finds the names a template may call.
var identifier = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// usedGlobals lists the globals content calls, in the order of globals.
func usedGlobals(content string) []int {
	seen := map[string]bool{}
	for _, id := range identifier.FindAllString(content, -1) {
		seen[id] = true
	}
	var used []int
	for g := range globals {
		if seen[globals[g].name] {
			used = append(used, g)
		}
	}
	return used
}

// buildProgram wraps template contents into one program that renders a whole batch: per
// event, the template's value, or an array of the templates' values when there are several.
// go-jsonnet copies every visible binding on each function call, so the program binds only the
// natives and closures the templates use; with direct set, plain calls of the globals are
// rewritten into native calls (see rewriteCalls). Each template starts on the program's line 3.
func buildProgram(contents []string, direct bool) string {
	bodies := make([]string, len(contents))
	closures := make([]map[string]bool, len(contents))
	for k, content := range contents {
		bodies[k], closures[k] = content, map[string]bool{}
		if direct {
			bodies[k], closures[k] = rewriteCalls(content, k)
		}
		for _, g := range usedGlobals(content) {
			if !direct {
				closures[k][globals[g].name] = true
			}
		}
	}
	var b strings.Builder
	b.WriteString("std.makeArray(__kb_count(), function(__i) ")
	if len(contents) > 1 {
		b.WriteString("[")
	}
	for k := range contents {
		if k > 0 {
			b.WriteString("\n, ")
		}
		var defs []string
		for g := range globals {
			if closures[k][globals[g].name] {
				defs = append(defs, strings.ReplaceAll(globals[g].def, "{k}", strconv.Itoa(k)))
			}
		}
		b.WriteString("(")
		if len(defs) > 0 {
			b.WriteString("local " + strings.Join(defs, ", ") + ";")
		}
		b.WriteString("\n" + bodies[k] + "\n)")
	}
	if len(contents) > 1 {
		b.WriteString("]")
	}
	b.WriteString(")\n")
	return bindNatives(b.String())
}

// bindNatives prefixes program with a line that binds each native it calls, once.
func bindNatives(program string) string {
	var binds []string
	seen := map[string]bool{}
	for _, id := range identifier.FindAllString(program, -1) {
		if strings.HasPrefix(id, "__kb_") && !seen[id] {
			seen[id] = true
			binds = append(binds, fmt.Sprintf("%s = std.native(%q)", id, strings.TrimPrefix(id, "__")))
		}
	}
	return "local " + strings.Join(binds, ", ") + ";\n" + program
}

// program is a parsed program and its text, which a worker parses again.
type program struct {
	text string
	node ast.Node
}

// compileProgram parses the batch program for contents, with direct native calls where the
// rewrite yields a valid program, else as written.
func compileProgram(name string, contents []string) (program, error) {
	text := buildProgram(contents, true)
	if node, err := jsonnet.SnippetToAST(name, text); err == nil {
		return program{text, node}, nil
	}
	text = buildProgram(contents, false)
	node, err := parseProgram(name, text)
	return program{text, node}, err
}

// checkSyntax parses a template on its own, so a syntax error points into the template rather
// than into the program wrapped around it.
// It also refuses tailstrict: go-jsonnet runs such calls outside its stack limit, so a deep
// tailstrict recursion would overflow the Go stack and kill the process.
func checkSyntax(name, content string) error {
	if _, err := formatter.Format(name, content, formatter.DefaultOptions()); err != nil {
		return fmt.Errorf("template is invalid: %s", firstLine(err.Error()))
	}
	for _, t := range tokenize(content) {
		if t.ident && t.text == "tailstrict" {
			return fmt.Errorf("template is invalid: tailstrict is not allowed (it escapes the recursion limit)")
		}
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
			msg = msg[:m[4]] + strconv.Itoa(line-2) + msg[m[5]:]
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
