package api

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// openAPIPath is the API's description, kept in step by these tests.
const openAPIPath = "../docs/openapi.yaml"

type openAPIDoc struct {
	OpenAPI    string                          `yaml:"openapi"`
	Paths      map[string]map[string]openAPIOp `yaml:"paths"`
	Components struct {
		Schemas map[string]struct {
			Enum        []string `yaml:"enum"`
			Description string   `yaml:"description"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

type openAPIOp struct {
	OperationID string         `yaml:"operationId"`
	Responses   map[string]any `yaml:"responses"`
	ErrorCodes  []string       `yaml:"x-error-codes"`
}

func loadOpenAPI(t *testing.T) (*openAPIDoc, []byte) {
	t.Helper()
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", openAPIPath, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Fatalf("openapi version %q, want 3.0.x", doc.OpenAPI)
	}
	return &doc, raw
}

// registeredRoutes builds the API and returns its "METHOD /path" routes
// (catch-alls left out).
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	a := bareAPI(t)
	var routes []string
	for _, p := range a.patterns {
		if strings.Contains(p, " ") {
			routes = append(routes, p)
		}
	}
	if len(routes) == 0 {
		t.Fatal("no routes registered")
	}
	return routes
}

// bareAPI is the API over a fresh store with only its required
// dependencies (the operator API off).
func bareAPI(t *testing.T) *API {
	t.Helper()
	st := storagetest.MustOpen(t)
	svc, err := ca.New(st, bytes.Repeat([]byte{1}, 32), ca.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dv, err := auth.NewDeviceVerifier(st, DeviceKeys(svc), auth.DefaultDeviceConfig())
	if err != nil {
		t.Fatal(err)
	}
	return New(Deps{CA: svc, Apps: auth.NewApps(st), Admin: auth.NewAdmin(""), Devices: dv})
}

// TestOpenAPICoversRoutes: every route of routes.go is described, and
// nothing else is.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	doc, _ := loadOpenAPI(t)
	routes := registeredRoutes(t)
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		ops, ok := doc.Paths[path]
		if !ok {
			t.Errorf("%s: path %s missing from %s", r, path, openAPIPath)
			continue
		}
		if _, ok := ops[strings.ToLower(method)]; !ok {
			t.Errorf("%s: method %s of %s missing from %s", r, method, path, openAPIPath)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if r := strings.ToUpper(method) + " " + path; !slices.Contains(routes, r) {
				t.Errorf("%s describes %s, which routes.go does not register", openAPIPath, r)
			}
		}
	}
}

// TestOpenAPICoversErrorCodes: the ErrorCode enum is exactly the codes of
// writeError's table (plus internal), its description gives each code with
// the status writeError answers, and every operation lists its codes from
// the enum.
func TestOpenAPICoversErrorCodes(t *testing.T) {
	t.Parallel()
	doc, _ := loadOpenAPI(t)
	schema, ok := doc.Components.Schemas["ErrorCode"]
	if !ok {
		t.Fatal("no ErrorCode schema")
	}
	statuses := map[string]int{CodeInternal: 500}
	for _, m := range errorTable {
		if s, dup := statuses[m.code]; dup && s != m.status {
			t.Errorf("code %s has two statuses in errorTable: %d and %d", m.code, s, m.status)
		}
		statuses[m.code] = m.status
		if !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(m.code) {
			t.Errorf("code %q is not snake_case", m.code)
		}
	}
	for code := range statuses {
		if !slices.Contains(schema.Enum, code) {
			t.Errorf("error code %s is not in the ErrorCode enum of %s", code, openAPIPath)
		}
	}
	rows := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\| ([a-z0-9_]+) \| (\d{3}) \|`).FindAllStringSubmatch(schema.Description, -1) {
		rows[m[1]], _ = strconv.Atoi(m[2])
	}
	for _, code := range schema.Enum {
		want, ok := statuses[code]
		if !ok {
			t.Errorf("the ErrorCode enum lists %s, which writeError never answers", code)
			continue
		}
		if got, ok := rows[code]; !ok || got != want {
			t.Errorf("the ErrorCode table gives %s status %d, writeError answers %d", code, got, want)
		}
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			name := strings.ToUpper(method) + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", name)
			}
			if _, ok := op.Responses["default"]; !ok {
				t.Errorf("%s: no default (error) response", name)
			}
			if !slices.Contains(op.ErrorCodes, CodeInternal) {
				t.Errorf("%s: x-error-codes lacks %s", name, CodeInternal)
			}
			for _, c := range op.ErrorCodes {
				if !slices.Contains(schema.Enum, c) {
					t.Errorf("%s: x-error-codes lists %s, not in the ErrorCode enum", name, c)
				}
			}
		}
	}
}

// TestOpenAPIRefsResolve: every $ref points at a defined component.
func TestOpenAPIRefsResolve(t *testing.T) {
	t.Parallel()
	_, raw := loadOpenAPI(t)
	var tree map[string]any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			for k, c := range n {
				if k == "$ref" {
					ref, _ := c.(string)
					if !resolves(tree, ref) {
						t.Errorf("$ref %q does not resolve", ref)
					}
					continue
				}
				walk(c)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(tree)
}

func resolves(tree map[string]any, ref string) bool {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = tree
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
