package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, body string
		want                    error
	}{
		{"user", "application/json", `{"name":"张三"}`, nil},
		{"charset parameter", "application/json; charset=utf-8", `{"name":"a"}`, nil},
		{"surrounding space", "application/json", " \n{\"name\":\"a\"}\n ", nil},
		{"text/plain", "text/plain", `{"name":"a"}`, ErrUnsupportedMediaType},
		{"json suffix type", "application/problem+json", `{"name":"a"}`, ErrUnsupportedMediaType},
		{"no type", "", `{"name":"a"}`, ErrUnsupportedMediaType},
		{"empty", "application/json", ``, ErrMalformedJSON},
		{"null", "application/json", `null`, ErrInvalidRequest},
		{"two objects", "application/json", `{"name":"a"}{"name":"b"}`, ErrMalformedJSON},
		{"garbage after", "application/json", `{"name":"a"}x`, ErrMalformedJSON},
		{"truncated", "application/json", `{"name":"a"`, ErrMalformedJSON},
		{"string", "application/json", `"a"`, ErrMalformedJSON},
		{"number for string", "application/json", `{"name":1}`, ErrMalformedJSON},
		{"unknown field", "application/json", `{"name":"a","x":1}`, ErrUnknownField},
		{"case-folded field name", "application/json", `{"NAME":"a"}`, nil}, // encoding/json matches case-insensitively
		{"blank name", "application/json", `{"name":"  "}`, ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req UserRequest
			err := decodeBody(tt.contentType, []byte(tt.body), &req)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("decodeBody = %v, want %v", err, tt.want)
			}
			if err != nil {
				if _, code, ok := lookupError(err); !ok || code == CodeInternal {
					t.Fatalf("%v maps to %q", err, code)
				}
			}
		})
	}
}

// FuzzDecodeIssuerRequest: any body decodes to an accepted request or one
// of the decoding/validation errors (never a panic, never an internal
// error), and an accepted request survives a JSON round trip unchanged.
func FuzzDecodeIssuerRequest(f *testing.F) {
	f.Add([]byte(`{"name":"SM2 Root","mode":"internal","alg":"SM2","generate":true,"subject":{"common_name":"Root"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req IssuerRequest
		err := decodeBody("application/json", body, &req)
		if err != nil {
			if !errors.Is(err, ErrMalformedJSON) && !errors.Is(err, ErrUnknownField) && !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("unexpected error %v", err)
			}
			if _, code, ok := lookupError(err); !ok || code == CodeInternal {
				t.Fatalf("%v maps to %q", err, code)
			}
			return
		}
		again, err := json.Marshal(&req)
		if err != nil {
			t.Fatal(err)
		}
		var req2 IssuerRequest
		if err := decodeBody("application/json", again, &req2); err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if !reflect.DeepEqual(normalize(req), normalize(req2)) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", req, req2)
		}
		_ = req.caRequest()
	})
}

// normalize makes empty slices nil (omitempty drops them on re-encoding).
func normalize(r IssuerRequest) IssuerRequest {
	if p := r.Profile; p != nil {
		c := *p
		for _, s := range []*[]string{&c.Algs, &c.Purposes, &c.SubjectFields} {
			if len(*s) == 0 {
				*s = nil
			}
		}
		if len(c.RSABits) == 0 {
			c.RSABits = nil
		}
		r.Profile = &c
	}
	return r
}

// TestDecodeBodyNamesTheField: a member of the wrong JSON type, and a
// binary member that is not standard base64 (encoding/json says neither
// which member), are malformed_json naming the member as on the wire.
func TestDecodeBodyNamesTheField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, field string
		into              func() validator
	}{
		{"base64url data", `{"data":"-_-_","signature":"AAAA"}`, "data", func() validator { return &VerifyRequest{} }},
		{"unpadded signature", `{"data":"aGk=","signature":"aGk"}`, "signature", func() validator { return &VerifyRequest{} }},
		{"plain text", `{"user":"usr_x","data":"hello world"}`, "data", func() validator { return &EncryptRequest{} }},
		{"case-folded member", `{"DATA":"a b"}`, "DATA", func() validator { return &VerifyRequest{} }},
		{"nested document", `{"kind":"sign","documents":[{"name":"a","data":"YQ=="},{"name":"b","digest":"not base64!"}]}`,
			"documents[1].digest", func() validator { return &SessionRequest{} }},
		{"ciphertext", `{"kind":"decrypt","ciphertext":"%%%","ciphertext_format":"cms"}`, "ciphertext", func() validator { return &SessionRequest{} }},
		{"number for a string", `{"kind":"login","display":{"title":7}}`, "display.title", func() validator { return &SessionRequest{} }},
		// A wrong type inside a list names the element.
		{"number for the third document's digest", `{"kind":"sign","documents":[{"name":"a","data":"YQ=="},{"name":"b","data":"Yg=="},{"name":"c","digest":5}]}`,
			"documents[2].digest", func() validator { return &SessionRequest{} }},
		{"object for a digest", ` {"kind":"sign","documents":[{"name":"a]}\"[","data":"YQ=="},{"name":"b","digest":{"x":[1]}}]} `,
			"documents[1].digest", func() validator { return &SessionRequest{} }},
		{"array for a name", `{"kind":"sign","documents":[{"name":"a","data":"YQ=="},{"name":["b"]}]}`,
			"documents[1].name", func() validator { return &SessionRequest{} }},
		{"a number as a document", `{"kind":"sign","documents":[{"name":"a","data":"YQ=="},7]}`,
			"documents[1]", func() validator { return &SessionRequest{} }},
		{"a placement's page", `{"kind":"seal","documents":[{"name":"a.pdf","upload":"u","placements":[{"page":1,"x_mm":1,"y_mm":1},{"page":"2"}]}]}`,
			"documents[0].placements[1].page", func() validator { return &SessionRequest{} }},
		{"the first document", `{"kind":"sign","documents":[{"name":false}]}`,
			"documents[0].name", func() validator { return &SessionRequest{} }},
		{"a number among the origins", `{"name":"x","origins":["https://a.example.cn",5]}`, "origins[1]", func() validator { return &AppRequest{} }},
		{"a string among the RSA sizes", `{"name":"x","mode":"internal","profile":{"algs":["RSA"],"rsa_bits":[2048,"4096"]}}`,
			"profile.rsa_bits[1]", func() validator { return &IssuerRequest{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeBody("application/json", []byte(tc.body), tc.into())
			if !errors.Is(err, ErrMalformedJSON) {
				t.Fatalf("decodeBody = %v, want malformed JSON", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("decodeBody = %v, want it to name field %q", err, tc.field)
			}
			if _, code, _ := lookupError(err); code != "malformed_json" {
				t.Fatalf("%v maps to %q", err, code)
			}
		})
	}
}

// TestDecodeBodyNamesTheUnknownField: a member the request does not
// have is unknown_field naming it where it is, list indices included.
func TestDecodeBodyNamesTheUnknownField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, field string
		into              func() validator
	}{
		{"top level", `{"name":"a","nmae":"b"}`, "nmae", func() validator { return &UserRequest{} }},
		{"in the second document", `{"kind":"sign","documents":[{"name":"a","data":"YQ=="},{"name":"b","dgest":"YQ=="}]}`,
			"documents[1].dgest", func() validator { return &SessionRequest{} }},
		{"in a placement", `{"kind":"seal","documents":[{"name":"a.pdf","upload":"u","placements":[{"page":1},{"pgae":2}]}]}`,
			"documents[0].placements[1].pgae", func() validator { return &SessionRequest{} }},
		{"in display", `{"kind":"login","display":{"titel":"x"}}`, "display.titel", func() validator { return &SessionRequest{} }},
		{"in the issuer's profile", `{"name":"x","mode":"internal","profile":{"algs":["SM2"],"alg":"SM2"}}`,
			"profile.alg", func() validator { return &IssuerRequest{} }},
		{"a case-folded member is known, the next one is not", `{"kind":"sign","documents":[{"NAME":"a","Data":"YQ==","x":1}]}`,
			"documents[0].x", func() validator { return &SessionRequest{} }},
		{"after a string that looks like a member", `{"kind":"sign","documents":[{"name":"\"x\":{","data":"YQ=="},{"name":"b","data":"YQ==","y":[{"z":1}]}]}`,
			"documents[1].y", func() validator { return &SessionRequest{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeBody("application/json", []byte(tc.body), tc.into())
			var fe *FieldError
			if !errors.Is(err, ErrUnknownField) || !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("decodeBody = %v, want unknown_field naming %q", err, tc.field)
			}
		})
	}
}

// TestPathAt: the value that ends (or opens) at an offset is named as on
// the wire; an offset inside no value names nothing.
func TestPathAt(t *testing.T) {
	t.Parallel()
	body := `{"a":[1,{"b":[true,[null,"x"]]}],"m":{"k.1":{"v":2}},"s":"[{\"]"}`
	for _, tc := range []struct {
		at   string // the text the offset ends
		want string
		ok   bool
	}{
		{`{"a":[1`, "a[0]", true},
		{`{"a":[1,{`, "a[1]", true},
		{`{"a":[1,{"b":[true`, "a[1].b[0]", true},
		{`{"a":[1,{"b":[true,[`, "a[1].b[1]", true},
		{`{"a":[1,{"b":[true,[null,"x"`, "a[1].b[1][1]", true},
		{`{"a":[1,{"b":[true,[null,"x"]]}],"m":{"k.1":{"v":2`, "m.k.1.v", true},
		{`{"a":[1,{"b":[true,[null,"x"]]}],"m":{"k.1":{"v":2}},"s":"[{\"]"`, "s", true},
		{`{"a"`, "", false}, // a member name is not a value
		{``, "", false},
		{body, "", false},
	} {
		if !strings.HasPrefix(body, tc.at) {
			t.Fatalf("%q is not a prefix of the body", tc.at)
		}
		got, ok := pathAt([]byte(body), int64(len(tc.at)))
		if got != tc.want || ok != tc.ok {
			t.Errorf("pathAt(…%q) = %q, %v; want %q, %v", tc.at[max(0, len(tc.at)-12):], got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		wire, named string
		want        bool
	}{
		{"documents[2].digest", "documents.digest", true},
		{"documents[1]", "documents", true},
		{"m.k.v", "m.v", true},
		{"documents[2].name", "documents.digest", false},
		{"a.b", "b.a", false},
	} {
		if got := samePath(tc.wire, tc.named); got != tc.want {
			t.Errorf("samePath(%q, %q) = %v", tc.wire, tc.named, got)
		}
	}
}
