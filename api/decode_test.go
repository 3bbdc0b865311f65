package api

import (
	"encoding/json"
	"errors"
	"reflect"
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
