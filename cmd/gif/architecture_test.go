package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// moduleRoot is the repository, seen from this package's directory.
const moduleRoot = "../.."

// packageCell matches a package named in the first cell of a row of
// docs/ARCHITECTURE.md's package table.
var packageCell = regexp.MustCompile("`([a-z0-9/]+)`")

// packageRanks reads the package table of docs/ARCHITECTURE.md: each
// package's row number, from the top.
func packageRanks(t *testing.T) map[string]int {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(moduleRoot, "docs/ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "\n## Packages\n")
	if !ok {
		t.Fatal("docs/ARCHITECTURE.md has no \"## Packages\" section")
	}
	ranks := make(map[string]int)
	for i, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if !strings.HasPrefix(line, "| `") || len(cells) < 3 {
			continue
		}
		for _, m := range packageCell.FindAllStringSubmatch(cells[1], -1) {
			ranks[m[1]] = i
		}
	}
	return ranks
}

// TestImportsPointDown checks that every package of the module (but for
// its tests) is in ARCHITECTURE's package table and imports only packages
// further down it, so that none reaches upward.
func TestImportsPointDown(t *testing.T) {
	ranks := packageRanks(t)
	const module = "gif/"
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(moduleRoot, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || rel == "bench") {
				return filepath.SkipDir // bench is a module of its own
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(rel))
		rank, ok := ranks[pkg]
		if !ok {
			t.Errorf("%s: package %s is not in docs/ARCHITECTURE.md's package table", rel, pkg)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			target, err := strconv.Unquote(imp.Path.Value)
			if err != nil || !strings.HasPrefix(target, module) {
				continue
			}
			target = strings.TrimPrefix(target, module)
			if r, ok := ranks[target]; !ok || r <= rank {
				t.Errorf("%s: %s imports %s, which is not further down docs/ARCHITECTURE.md's package table", rel, pkg, target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
