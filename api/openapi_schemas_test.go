package api

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// openAPISchema is the part of a schema the wire-type check reads.
type openAPISchema struct {
	Ref        string                    `yaml:"$ref"`
	AllOf      []openAPISchema           `yaml:"allOf"`
	Properties map[string]*openAPISchema `yaml:"properties"`
	// Items: an array's; its item's properties are the array's here.
	Items *openAPISchema `yaml:"items"`
}

// schemaProperties lists the property names of the schema at path (a
// component name, then property names into inline objects), following
// $ref and allOf.
func schemaProperties(t *testing.T, schemas map[string]*openAPISchema, path string) []string {
	t.Helper()
	names := strings.Split(path, ".")
	s, ok := schemas[names[0]]
	if !ok {
		t.Fatalf("%s: no schema %s", openAPIPath, names[0])
	}
	resolve := func(s *openAPISchema) *openAPISchema {
		for s.Ref != "" {
			s = schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
			if s == nil {
				t.Fatalf("%s: a $ref of %s does not resolve", openAPIPath, path)
			}
		}
		return s
	}
	var collect func(s *openAPISchema, into map[string]*openAPISchema)
	collect = func(s *openAPISchema, into map[string]*openAPISchema) {
		s = resolve(s)
		for _, sub := range s.AllOf {
			collect(&sub, into)
		}
		if s.Items != nil {
			collect(s.Items, into)
		}
		for k, v := range s.Properties {
			into[k] = v
		}
	}
	props := map[string]*openAPISchema{}
	collect(s, props)
	for _, n := range names[1:] {
		sub, ok := props[n]
		if !ok {
			t.Fatalf("%s: %s has no property %s", openAPIPath, path, n)
		}
		props = map[string]*openAPISchema{}
		collect(sub, props)
	}
	var out []string
	for k := range props {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// jsonNames lists the JSON member names of struct type v (embedded
// structs flattened, "-" left out).
func jsonNames(typ reflect.Type) []string {
	var out []string
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if ft := f.Type; f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			out = append(out, jsonNames(ft)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestOpenAPISchemasMatchWireTypes: the schemas of the portal-facing
// requests and answers (and the error envelope every route answers with)
// have exactly the members the gateway's wire types have, so an
// integrator who codes against docs/openapi.yaml neither misses a field
// the gateway sends nor expects one it never does.
func TestOpenAPISchemasMatchWireTypes(t *testing.T) {
	t.Parallel()
	_, raw := loadOpenAPI(t)
	var doc struct {
		Components struct {
			Schemas map[string]*openAPISchema `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// A delivery's body decodes into WebhookEvent whatever its type; the
	// schema describes the session event, CredentialExpiringEvent the other.
	reminder := jsonNames(reflect.TypeFor[protocol.CredentialExpiring]())
	for _, tc := range []struct {
		schema string
		wire   any
		// without: members of wire that belong to another schema
		without []string
	}{
		{"Error", protocol.ErrorEnvelope{}, nil},
		{"Error.error", protocol.ErrorBody{}, nil},
		{"SessionRequest", protocol.SessionRequest{}, nil},
		{"SessionDocument", protocol.Document{}, nil},
		{"ScanResponse", protocol.ScanResponse{}, nil},
		{"ScanResponse.session", protocol.ScannedSession{}, nil},
		{"ScanResponse.session.documents", protocol.ScannedDocument{}, nil},
		{"ScanResponse.session.documents.sketches", protocol.PageSketch{}, nil},
		{"FileText", seal.Excerpt{}, nil},
		{"FileText.first", seal.ExcerptLines{}, nil},
		{"FileText.spots", seal.Spot{}, nil},
		{"Display", protocol.Display{}, nil},
		{"Desktop", protocol.Desktop{}, nil},
		{"SessionCreated", protocol.SessionCreated{}, nil},
		{"SessionCreated.qr", protocol.QRLinks{}, nil},
		{"SessionCreated.watch", protocol.WatchLinks{}, nil},
		{"SessionView", protocol.SessionView{}, nil},
		{"SessionState", protocol.SessionState{}, nil},
		{"Event", protocol.Event{}, nil},
		{"EventList", protocol.EventList{}, nil},
		{"LoginResult", protocol.LoginResult{}, nil},
		{"SignResult", protocol.SignResult{}, nil},
		{"DecryptResult", protocol.DecryptResult{}, nil},
		{"CertificateResult", protocol.CertificateResult{}, nil},
		{"VerifyRequest", protocol.VerifyRequest{}, nil},
		{"VerifyResponse", protocol.VerifyResponse{}, nil},
		{"VerifyResponse.signer", protocol.Signer{}, nil},
		{"EncryptRequest", protocol.EncryptRequest{}, nil},
		{"EncryptResponse", protocol.EncryptResponse{}, nil},
		{"WebhookEvent", protocol.WebhookEvent{}, reminder},
		{"CredentialExpiringEvent", protocol.CredentialExpiringEvent{}, nil},
		{"CredentialList", protocol.CredentialList{}, nil},
		{"Delivery", protocol.Delivery{}, nil},
		{"DeliveryList", protocol.DeliveryList{}, nil},
		{"UploadCreated", protocol.UploadCreated{}, nil},
		{"IssuerList", protocol.IssuerList{}, nil},
		{"Issuer", protocol.Issuer{}, nil},
		{"AppRequest", protocol.AppRequest{}, nil},
		{"AppCreated", protocol.App{}, nil},
		{"WebhookRequest", protocol.WebhookRequest{}, nil},
		{"Webhook", protocol.Webhook{}, nil},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			got := schemaProperties(t, doc.Components.Schemas, tc.schema)
			want := slices.DeleteFunc(jsonNames(reflect.TypeOf(tc.wire)), func(n string) bool {
				return slices.Contains(tc.without, n)
			})
			for _, n := range want {
				if !slices.Contains(got, n) {
					t.Errorf("%s: the gateway sends or takes %q (%T), the schema does not describe it", tc.schema, n, tc.wire)
				}
			}
			for _, n := range got {
				if !slices.Contains(want, n) {
					t.Errorf("%s: the schema describes %q, which %T does not have", tc.schema, n, tc.wire)
				}
			}
		})
	}
}

// TestOpenAPINoEmptyKeys: no key of the description is empty (YAML null).
// An unquoted flow-style description with a comma — {description: a, b} —
// parses as description "a" plus a key "b" with no value: the text is cut
// and the schema gets a keyword no OpenAPI tool knows.
func TestOpenAPINoEmptyKeys(t *testing.T) {
	t.Parallel()
	_, raw := loadOpenAPI(t)
	var tree yaml.Node
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Tag == "!!null" {
					t.Errorf("%s line %d: %s/%s has no value (a comma in an unquoted flow-style value? quote it)", openAPIPath, k.Line, path, k.Value)
				}
				walk(v, path+"/"+k.Value)
			}
		}
	}
	walk(&tree, "")
}
