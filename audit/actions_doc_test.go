package audit_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The operator guide's reference of what the audit log records
// (docs/operations.md, "The audit log: what it records") has one table row
// per action the code can write. TestAuditActionsDocumented keeps it
// complete both ways: it reads the repository's non-test Go files and
// collects every action the code can write, then compares them with the
// rows of the section's action tables.

const (
	// repoRoot is the repository, seen from this package's directory.
	repoRoot = ".."
	// actionsDoc is the operator guide, relative to repoRoot.
	actionsDoc = "docs/operations.md"
	// actionsSection is the heading of the reference.
	actionsSection = "## The audit log: what it records"
)

// dynamicActions are the Action values of entries that are not a
// constant, by "file: expression": what each stands for. An entry whose
// action is computed some other way fails the test until it is added
// here with the list of what it can be.
var dynamicActions = map[string]string{
	// A key use's action is its session's kind (keyUseEntry).
	"api/keys.go: string(u.Session.Kind)": "kinds",
	// delegationEntry's parameter and delegationStep's variable hold the
	// actionDelegation… constants, which are collected as constants.
	"api/delegations.go: action": "constants",
	// sessionEndEntry's parameter: actionSessionReject or
	// actionSessionCancel, collected as constants.
	"api/scan.go: action": "constants",
	// The audit filter of GET /v1/admin/audit, not an entry.
	"api/audit.go: f.Action = val": "not an entry",
}

// srcFile is one parsed non-test Go file of the repository.
type srcFile struct {
	fset *token.FileSet
	rel  string // path from repoRoot, slash-separated
	dir  string // its package directory, slash-separated ("." for the root)
	file *ast.File
	// imports maps the file's import names of the module's packages to
	// their directories.
	imports map[string]string
}

// constRef is a package-level constant whose value is not a literal yet:
// a reference to another constant.
type constRef struct {
	dir  string
	expr ast.Expr
	file *srcFile
}

func TestAuditActionsDocumented(t *testing.T) {
	files := parseRepo(t)
	consts := stringConsts(t, files)

	code := map[string]string{} // action → where the code writes it
	add := func(action, where string) {
		if _, ok := code[action]; !ok {
			code[action] = where
		}
	}
	// 1. Constants named action…, Action… or AuditAction….
	for key, v := range consts {
		dir, name, _ := strings.Cut(key, ".")
		if isActionConst(name) {
			add(v, dir+"."+name)
		}
	}
	// 2. Action values of the entries the code builds, and the session
	// kinds where an entry takes its session's kind.
	kinds := sessionKinds(t, files)
	seen := map[string]bool{}
	for _, f := range files {
		for _, w := range actionWrites(f) {
			key := f.rel + ": " + w.expr
			if v, ok := constValue(consts, f, w.value); ok {
				add(v, f.rel+":"+strconv.Itoa(w.line))
				continue
			}
			seen[key] = true
			switch dynamicActions[key] {
			case "kinds":
				for _, k := range kinds {
					add(k, f.rel+":"+strconv.Itoa(w.line)+" (session kind)")
				}
			case "constants", "not an entry":
			default:
				t.Errorf("%s:%d: an audit action that is not a constant (%s): make it one, or add %q to dynamicActions with what it can be",
					f.rel, w.line, w.expr, key)
			}
		}
	}
	for key := range dynamicActions {
		if !seen[key] {
			t.Errorf("dynamicActions names %q, which the code no longer has: remove it", key)
		}
	}
	// The walk found the code (a wrong root would find nothing and pass).
	for _, want := range []string{"login", "certificate", "encrypt", "audit.archive", "master_key.rotate", "credential.expiring", "escrow.rotation.finish"} {
		if _, ok := code[want]; !ok {
			t.Fatalf("the code's actions miss %q: the walk of the repository is broken (found %d actions)", want, len(code))
		}
	}

	doc := documentedActions(t)
	for action, where := range code {
		if _, ok := doc[action]; !ok {
			t.Errorf("action %q (%s) has no row in %s, %q: add one (actor, when it is written, fields, detail)", action, where, actionsDoc, actionsSection)
		}
	}
	for action, line := range doc {
		if _, ok := code[action]; !ok {
			t.Errorf("%s:%d documents action %q, which the code does not write: remove or rename the row", actionsDoc, line, action)
		}
	}
	if !t.Failed() {
		t.Logf("%d audit actions, all documented", len(code))
	}
}

// isActionConst reports whether a constant's name makes it an audit action:
// action…, Action… or AuditAction… followed by an upper-case letter.
func isActionConst(name string) bool {
	for _, p := range []string{"action", "Action", "AuditAction"} {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			return true
		}
	}
	return false
}

// parseRepo parses every non-test Go file of the repository.
func parseRepo(t *testing.T) []*srcFile {
	t.Helper()
	module := modulePath(t)
	fset := token.NewFileSet()
	var files []*srcFile
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != repoRoot && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		sf := &srcFile{fset: fset, rel: rel, dir: filepath.ToSlash(filepath.Dir(rel)), file: f, imports: map[string]string{}}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			dir, ok := strings.CutPrefix(p, module+"/")
			if !ok {
				continue
			}
			local := dir[strings.LastIndexByte(dir, '/')+1:]
			if im.Name != nil {
				local = im.Name.Name
			}
			sf.imports[local] = dir
		}
		files = append(files, sf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func modulePath(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	t.Fatal("go.mod names no module")
	return ""
}

// stringConsts returns the string value of every package-level constant
// of the repository that is a string literal or, through other constants
// (of the same package or of an imported one), comes to one; keyed by
// "dir.Name".
func stringConsts(t *testing.T, files []*srcFile) map[string]string {
	t.Helper()
	vals := map[string]string{}
	refs := map[string]constRef{}
	for _, f := range files {
		for _, decl := range f.file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if len(vs.Values) != len(vs.Names) {
					continue // iota and implicit repetition: not strings here
				}
				for i, n := range vs.Names {
					key := f.dir + "." + n.Name
					if s, ok := stringLit(vs.Values[i]); ok {
						vals[key] = s
					} else {
						refs[key] = constRef{dir: f.dir, expr: vs.Values[i], file: f}
					}
				}
			}
		}
	}
	// Resolve references until nothing changes.
	for changed := true; changed; {
		changed = false
		for key, r := range refs {
			if target, ok := constKey(r.file, r.expr); ok {
				if v, ok := vals[target]; ok {
					vals[key] = v
					delete(refs, key)
					changed = true
				}
			}
		}
	}
	return vals
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// constKey names the constant e refers to in file f: Name (its own
// package) or pkg.Name (a package of the module), as "dir.Name".
func constKey(f *srcFile, e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.Ident:
		return f.dir + "." + e.Name, true
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		if !ok {
			return "", false
		}
		dir, ok := f.imports[x.Name]
		if !ok {
			return "", false
		}
		return dir + "." + e.Sel.Name, true
	}
	return "", false
}

// constValue is the string value of e in file f when e is a literal or a
// known constant.
func constValue(consts map[string]string, f *srcFile, e ast.Expr) (string, bool) {
	if s, ok := stringLit(e); ok {
		return s, true
	}
	key, ok := constKey(f, e)
	if !ok {
		return "", false
	}
	v, ok := consts[key]
	return v, ok
}

// sessionKinds returns the values of the protocol's session kinds: the
// constants of type Kind in package protocol.
func sessionKinds(t *testing.T, files []*srcFile) []string {
	t.Helper()
	var kinds []string
	for _, f := range files {
		if f.dir != "protocol" {
			continue
		}
		for _, decl := range f.file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "Kind" || len(vs.Values) != len(vs.Names) {
					continue
				}
				for _, v := range vs.Values {
					if s, ok := stringLit(v); ok {
						kinds = append(kinds, s)
					}
				}
			}
		}
	}
	if len(kinds) == 0 {
		t.Fatal("no session kinds (constants of type Kind) in package protocol")
	}
	return kinds
}

// actionWrite is one place that sets an entry's action.
type actionWrite struct {
	line  int
	expr  string // the value's source, or "x.Action = value" for an assignment
	value ast.Expr
}

// actionWrites finds the Action: values of the audit entries file f
// builds (composite literals of Entry, audit.Entry, protocol.AuditEntry,
// operator.AuditEntry) and every assignment to a field named Action.
func actionWrites(f *srcFile) []actionWrite {
	src := func(e ast.Node) string {
		var b strings.Builder
		_ = printer.Fprint(&b, f.fset, e)
		return b.String()
	}
	var out []actionWrite
	line := func(n ast.Node) int { return f.fset.Position(n.Pos()).Line }
	ast.Inspect(f.file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CompositeLit:
			if !isEntryType(n.Type) {
				return true
			}
			for _, el := range n.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Action" {
					out = append(out, actionWrite{line: line(kv), expr: src(kv.Value), value: kv.Value})
				}
			}
		case *ast.AssignStmt:
			for i, lhs := range n.Lhs {
				sel, ok := lhs.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Action" || i >= len(n.Rhs) {
					continue
				}
				out = append(out, actionWrite{line: line(n), expr: src(lhs) + " = " + src(n.Rhs[i]), value: n.Rhs[i]})
			}
		}
		return true
	})
	return out
}

func isEntryType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "Entry" || e.Name == "AuditEntry"
	case *ast.SelectorExpr:
		return e.Sel.Name == "Entry" || e.Sel.Name == "AuditEntry"
	}
	return false
}

// actionRow is a row of an action table: its first cell is one action in
// backquotes.
var actionRow = regexp.MustCompile("^\\| `([a-z0-9_.]+)` \\|")

// documentedActions returns the actions of the reference's tables (those
// whose header's first column is "action") with their line numbers; an
// action in two rows fails the test.
func documentedActions(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, actionsDoc))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc := map[string]int{}
	in, found, inTable, actionTable := false, false, false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == actionsSection
			found = found || in
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		if !inTable {
			// A table's header: is it an action table?
			inTable = true
			cells := strings.Split(line, "|")
			actionTable = len(cells) > 1 && strings.TrimSpace(cells[1]) == "action"
			continue
		}
		m := actionRow.FindStringSubmatch(line)
		if !actionTable || m == nil {
			continue
		}
		if prev, ok := doc[m[1]]; ok {
			t.Errorf("%s:%d: action %q has a row at line %d already", actionsDoc, n, m[1], prev)
		}
		doc[m[1]] = n
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("%s has no section %q", actionsDoc, actionsSection)
	}
	if len(doc) == 0 {
		t.Fatalf("%s, %q: no action table (a header whose first column is \"action\")", actionsDoc, actionsSection)
	}
	return doc
}
