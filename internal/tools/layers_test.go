package tools

import (
	"go/ast"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

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

// TestImportsPointDown fails on every package of the module (but for its
// tests) missing from ARCHITECTURE's package table, and on every import of
// a package that is not further down that table: no package reaches
// upward.
func TestImportsPointDown(t *testing.T) {
	ranks := packageRanks(t)
	const module = "gif/"
	skip := func(rel string) bool { return rel == "bench" } // a module of its own
	eachGoFile(t, skip, func(rel string, fset *token.FileSet, f *ast.File) {
		if strings.HasSuffix(rel, "_test.go") {
			return
		}
		pkg := path.Dir(rel)
		rank, ok := ranks[pkg]
		if !ok {
			t.Errorf("%s: package %s is not in docs/ARCHITECTURE.md's package table", rel, pkg)
			return
		}
		for _, imp := range f.Imports {
			target, err := strconv.Unquote(imp.Path.Value)
			if err != nil || !strings.HasPrefix(target, module) {
				continue
			}
			target = strings.TrimPrefix(target, module)
			if r, ok := ranks[target]; !ok || r <= rank {
				t.Errorf("%s: %s imports %s, which is not further down docs/ARCHITECTURE.md's package table",
					fset.Position(imp.Pos()), pkg, target)
			}
		}
	})
}
