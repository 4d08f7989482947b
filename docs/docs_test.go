// Package docs_test checks the documentation against the repository: every link of README.md
// and docs/*.md leads to a file (and heading) that exists, and README's Go version is go.mod's.
package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	link    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6} +(.+)$`)
	mdPath  = regexp.MustCompile("`([A-Za-z0-9_./-]+\\.md)`") // a Markdown file named in code font
)

// anchor is GitHub's id of a heading: lower case, punctuation dropped, spaces to hyphens.
func anchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(data), -1) {
		out[anchor(strings.ReplaceAll(m[1], "`", ""))] = true
	}
	return out
}

func TestLinksResolve(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.md")
	if err != nil || len(files) < 5 {
		t.Fatalf("docs: %v %v", files, err)
	}
	files = append(files, "../README.md")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		links := 0
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			links++
			path, frag, _ := strings.Cut(target, "#")
			if path == "" {
				path = file
			} else {
				path = filepath.Join(filepath.Dir(file), path)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s, which is not in the repository", file, target)
				continue
			}
			if frag != "" && strings.HasSuffix(path, ".md") && !anchors(t, path)[frag] {
				t.Errorf("%s links to %s, which has no heading #%s", file, target, frag)
			}
		}
		// A Markdown file named in code font is one a reader looks for: in the same directory,
		// docs/ or the repository's root.
		for _, m := range mdPath.FindAllStringSubmatch(string(data), -1) {
			found := false
			for _, dir := range []string{filepath.Dir(file), ".", ".."} {
				if _, err := os.Stat(filepath.Join(dir, m[1])); err == nil {
					found = true
				}
			}
			if !found {
				t.Errorf("%s names %s, which is not in the repository", file, m[1])
			}
		}
		if file == "../README.md" && links < 5 {
			t.Errorf("README.md: only %d links found", links)
		}
	}
}

func TestReadmeGoVersion(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	versions := regexp.MustCompile(`Go (1\.[0-9.]*[0-9])`).FindAllSubmatch(readme, -1)
	if len(versions) == 0 {
		t.Fatal("README.md names no Go version")
	}
	for _, v := range versions {
		if string(v[1]) != string(m[1]) {
			t.Errorf("README.md says Go %s, go.mod needs %s", v[1], m[1])
		}
	}
}
