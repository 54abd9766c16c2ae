package tools

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// moduleRoot is the repository, seen from this package's directory.
const moduleRoot = "../.."

// notPackaged are the programs run outside this package without it, by
// file and the expression that names the program, each with why it is no
// Debian package's. Any other os/exec call is an error.
var notPackaged = map[string]string{
	"internal/control/start.go: exe":                         "the daemon is the gif binary the user ran",
	"internal/control/start.go: path":                        "the daemon is the gif binary the user ran",
	`internal/cli/netstart.go: "/bin/sh"`:                    "netstart runs the user's ! lines with /bin/sh, as OpenBSD's does",
	"internal/control/control_linux_test.go: copyForUser(t)": "a copy of the test binary itself",
	`internal/integration/harness_test.go: "go"`:             "the Go toolchain that runs the tests builds gif",
	"internal/integration/demo_test.go: gifBin":              "the gif binary under test",
	`bench/gobench.go: "go"`:                                 "the Go toolchain runs the micro-benchmarks",
	`bench/tools.go: "go"`:                                   "the Go toolchain builds gif and wireguard-go",
	"bench/tools.go: tb.wireguard":                           "wireguard-go, built by the bench from its module",
}

// programArg is where each os/exec function takes the program.
var programArg = map[string]int{"Command": 0, "CommandContext": 1, "LookPath": 0}

// TestProgramsFoundHere fails on every os/exec call outside this package,
// tests and bench included, that runs or finds a program not in
// notPackaged: such a program would escape the check of its package
// against the Makefile.
func TestProgramsFoundHere(t *testing.T) {
	seen := map[string]bool{}
	skip := func(rel string) bool { return rel == "internal/tools" }
	eachGoFile(t, skip, func(rel string, fset *token.FileSet, f *ast.File) {
		execName := importName(f, "os/exec")
		if execName == "" {
			return
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			arg, runs := programArg[sel.Sel.Name]
			if !ok || pkg.Name != execName || !runs || len(call.Args) <= arg {
				return true
			}
			program := types.ExprString(call.Args[arg])
			key := rel + ": " + program
			if _, allowed := notPackaged[key]; allowed {
				seen[key] = true
				return true
			}
			t.Errorf("%s: exec.%s of %s: find it with tools.Path or run it with tools.Command, which know its Debian package",
				fset.Position(call.Pos()), sel.Sel.Name, program)
			return true
		})
	})
	for key := range notPackaged {
		if !seen[key] {
			t.Errorf("notPackaged lists %q, which no call runs now: remove it", key)
		}
	}
}

// eachGoFile calls visit with the path from moduleRoot and the syntax of
// every Go file of the repository, tests and bench included, but for
// testdata, hidden directories and the directories skip names.
func eachGoFile(t *testing.T, skip func(rel string) bool, visit func(rel string, fset *token.FileSet, f *ast.File)) {
	t.Helper()
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(moduleRoot, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || skip(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		visit(rel, fset, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// importName returns the name that f uses for the package path, or "".
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return filepath.Base(path)
	}
	return ""
}

// TestPackagesInMakefile fails naming every program whose Debian package
// is missing from the Makefile's DEB_PKGS, which `make deps` and CI
// install on a fresh machine.
func TestPackagesInMakefile(t *testing.T) {
	debPkgs := makefileDebPkgs(t)
	for _, program := range slices.Sorted(maps.Keys(Packages)) {
		for _, pkg := range strings.Fields(Packages[program]) {
			if !slices.Contains(debPkgs, pkg) {
				t.Errorf("%s: Debian package %s is not in the Makefile's DEB_PKGS", program, pkg)
			}
		}
	}
}

// TestCIInstallsFromMakefile fails if .ci/run names a package of DEB_PKGS
// itself: it must install them with make, from the one list.
func TestCIInstallsFromMakefile(t *testing.T) {
	run, err := os.ReadFile(filepath.Join(moduleRoot, ".ci/run"))
	if err != nil {
		t.Fatal(err)
	}
	debPkgs := makefileDebPkgs(t)
	for i, line := range strings.Split(string(run), "\n") {
		if i == 0 && strings.HasPrefix(line, "#!") {
			continue // the interpreter, which runs it, is no installation
		}
		for _, word := range strings.Fields(line) {
			if slices.Contains(debPkgs, word) {
				t.Errorf(".ci/run:%d: names package %s, which the Makefile's DEB_PKGS lists: install with make deps", i+1, word)
			}
		}
	}
}

// debPkgsLine is the Makefile's assignment of DEB_PKGS, continued lines
// joined.
var debPkgsLine = regexp.MustCompile(`(?m)^DEB_PKGS\s*:?=((?:.*\\\n)*.*)$`)

// makefileDebPkgs returns the Makefile's DEB_PKGS.
func makefileDebPkgs(t *testing.T) []string {
	t.Helper()
	makefile, err := os.ReadFile(filepath.Join(moduleRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := debPkgsLine.FindSubmatch(makefile)
	if m == nil {
		t.Fatal("Makefile: no DEB_PKGS := line")
	}
	pkgs := strings.Fields(strings.ReplaceAll(string(m[1]), "\\\n", " "))
	if len(pkgs) == 0 {
		t.Fatal("Makefile: DEB_PKGS is empty")
	}
	return pkgs
}

// TestPathNamesPackage: a missing program's error says what to install,
// and one that Packages lacks is refused even when it is installed.
func TestPathNamesPackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Path("tshark")
	if want := "tshark not found: apt-get install tshark (make deps installs every test tool)"; err == nil || err.Error() != want {
		t.Errorf("Path(tshark) = %v, want %q", err, want)
	}
	t.Setenv("PATH", "/usr/bin:/bin")
	_, err = Path("true")
	if err == nil || !strings.Contains(err.Error(), "not in tools.Packages") {
		t.Errorf("Path(true) = %v, want it refused as not in Packages", err)
	}
}
