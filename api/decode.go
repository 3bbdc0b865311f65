package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// validator is every request body type: Validate checks the fields after
// decoding and returns a *FieldError (or nil).
type validator interface {
	Validate() error
}

// readBody reads the whole request body, at most a.maxBody bytes
// (ErrBodyTooLarge beyond).
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > a.maxBody {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBodyTooLarge, r.ContentLength, a.maxBody)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, fmt.Errorf("%w: the limit is %d bytes", ErrBodyTooLarge, a.maxBody)
	}
	if err != nil {
		// The error names the connection's addresses: never repeat it.
		if isTimeout(err) {
			return nil, fmt.Errorf("%w: the body did not arrive in time", ErrBodyTimeout)
		}
		return nil, fmt.Errorf("%w: the body could not be read to its end", ErrMalformedJSON)
	}
	return b, nil
}

// isTimeout reports whether a body read failed on the connection's read
// deadline (http.read_timeout).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// decode reads r's body as JSON into v and validates it.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v validator) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeBody(r.Header.Get("Content-Type"), body, v)
}

// decodeBody decodes one JSON object from body into v, refusing a wrong
// Content-Type, unknown fields and trailing data, then calls v.Validate.
func decodeBody(contentType string, body []byte, v validator) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w (got %q)", ErrUnsupportedMediaType, contentType)
	}
	if err := unmarshalStrict(body, v); err != nil {
		return err
	}
	return v.Validate()
}

// unmarshalStrict decodes exactly one JSON value of v's shape from body.
func unmarshalStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%w: empty body", ErrMalformedJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			// encoding/json names no field for a []byte member that is not
			// base64: find it, so that the answer says which one.
			const why = "not standard base64 (RFC 4648 section 4: + and / with = padding; base64url is not accepted)"
			if f := base64Field(body, reflect.TypeOf(v)); f != "" {
				return &FieldError{Field: f, Err: ErrMalformedJSON, Reason: why}
			}
			return fmt.Errorf("%w: a binary member is %s", ErrMalformedJSON, why)
		}
		return jsonError(err, body, reflect.TypeOf(v))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformedJSON)
	}
	return nil
}

// jsonError classifies an encoding/json error of decoding body into a
// value of type typ.
func jsonError(err error, body []byte, typ reflect.Type) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		// encoding/json names the member alone ("nmae"): name it where
		// it is ("documents[1].nmae").
		if p := unknownPath(body, typ, name); p != "" {
			name = p
		}
		return &FieldError{Field: name, Reason: "not a field of this request", Err: ErrUnknownField}
	case errors.As(err, &se):
		return fmt.Errorf("%w: syntax error at byte %d", ErrMalformedJSON, se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fmt.Errorf("%w: want a JSON object", ErrMalformedJSON)
		}
		// encoding/json names the member without the list indices on the
		// way ("documents.digest"): name the element ("documents[2].digest"),
		// as the other field errors do.
		if p, ok := pathAt(body, te.Offset); ok && samePath(p, field) {
			field = p
		}
		return &FieldError{Field: field, Err: ErrMalformedJSON, Reason: fmt.Sprintf("want %s, got %s", te.Type, te.Value)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: unexpected end of input", ErrMalformedJSON)
	default:
		return fmt.Errorf("%w: %v", ErrMalformedJSON, err)
	}
}

// jsonFrame is one open container of a walk through a JSON body
// (pathAt, unknownPath).
type jsonFrame struct {
	typ     reflect.Type // unknownPath: the container's type; nil: not checked
	array   bool
	n       int    // array: elements before the current one
	key     string // object: the current member
	wantKey bool   // object: the next token is a member name
}

// jsonStack is the containers open at a point of the walk, outermost
// first.
type jsonStack []jsonFrame

// path names the current value as on the wire ("documents[2].digest").
func (s jsonStack) path() string {
	var sb strings.Builder
	for _, f := range s {
		if f.array {
			sb.WriteString("[" + strconv.Itoa(f.n) + "]")
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(f.key)
	}
	return sb.String()
}

// done moves the innermost container past the value just read.
func (s jsonStack) done() {
	if n := len(s); n > 0 {
		if s[n-1].array {
			s[n-1].n++
		} else {
			s[n-1].wantKey = true
		}
	}
}

// pathAt names, as on the wire ("documents[2].digest", "meta.k.name"),
// the JSON value of body that ends at byte offset off, or whose opening
// bracket or brace does: where encoding/json reports a value of the wrong
// type (UnmarshalTypeError.Offset). false if no value does.
func pathAt(body []byte, off int64) (string, bool) {
	var stack jsonStack
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		after := dec.InputOffset()
		top := len(stack) - 1
		if top >= 0 && !stack[top].array && stack[top].wantKey {
			if k, ok := tok.(string); ok {
				stack[top].key, stack[top].wantKey = k, false
				continue
			}
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:top]
			stack.done()
			continue
		}
		if before < off && off <= after && len(stack) > 0 {
			return stack.path(), true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, jsonFrame{wantKey: true})
		case json.Delim('['):
			stack = append(stack, jsonFrame{array: true})
		default:
			stack.done()
		}
	}
}

// unmarshalerType is json.Unmarshaler: a value of such a type decodes
// itself, and what it holds is not checked for unknown members.
var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// unknownPath names, as on the wire ("documents[1].nmae"), the first
// member of body, in document order, that is not a field of the struct
// of typ's shape it is in (the one encoding/json refuses with
// DisallowUnknownFields), if it is called name; "" otherwise.
func unknownPath(body []byte, typ reflect.Type, name string) string {
	var stack jsonStack
	// checked is t without pointers, nil when its members are not
	// checked (it decodes itself, or holds anything).
	checked := func(t reflect.Type) reflect.Type {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == nil || t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil
		}
		switch t.Kind() {
		case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array:
			return t
		}
		return nil
	}
	// next is the type of the value about to start in the innermost
	// container.
	next := func() reflect.Type {
		if len(stack) == 0 {
			return checked(typ)
		}
		f := stack[len(stack)-1]
		switch {
		case f.typ == nil:
			return nil
		case f.array:
			return checked(f.typ.Elem())
		case f.typ.Kind() == reflect.Map:
			return checked(f.typ.Elem())
		}
		t, _ := memberType(f.typ, f.key)
		return checked(t)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		top := len(stack) - 1
		if top >= 0 && !stack[top].array && stack[top].wantKey {
			if k, ok := tok.(string); ok {
				f := &stack[top]
				if f.typ != nil && f.typ.Kind() == reflect.Struct {
					if _, known := memberType(f.typ, k); !known {
						if k != name {
							return ""
						}
						f.key = k
						return stack.path()
					}
				}
				f.key, f.wantKey = k, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			t := next()
			if t != nil && t.Kind() != reflect.Struct && t.Kind() != reflect.Map {
				t = nil
			}
			stack = append(stack, jsonFrame{typ: t, wantKey: true})
		case json.Delim('['):
			t := next()
			if t != nil && t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				t = nil
			}
			stack = append(stack, jsonFrame{typ: t, array: true})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
			stack.done()
		default:
			stack.done()
		}
	}
}

// samePath reports whether wire (pathAt's "documents[2].meta.k.name")
// is the member encoding/json named ("documents.meta.name": no indices,
// no map keys): its names, indices left out, hold those of named in
// order, ending on the same one.
func samePath(wire, named string) bool {
	var names []string
	for _, part := range strings.Split(wire, ".") {
		name, _, _ := strings.Cut(part, "[")
		names = append(names, name)
	}
	want := strings.Split(named, ".")
	if names[len(names)-1] != want[len(want)-1] {
		return false
	}
	i := 0
	for _, n := range names {
		if i < len(want) && n == want[i] {
			i++
		}
	}
	return i == len(want)
}

// base64Field finds, in body (JSON that decoded but for a []byte member),
// the first member of typ's shape that holds a string standard base64
// does not decode, and names it as on the wire ("documents[1].data"); ""
// if it cannot tell.
func base64Field(body []byte, typ reflect.Type) string {
	var tree any
	if json.Unmarshal(body, &tree) != nil {
		return ""
	}
	return findBase64(tree, typ, "")
}

// findBase64 is base64Field's walk of the decoded value v of type typ at
// path.
func findBase64(v any, typ reflect.Type, path string) string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Uint8:
		if s, ok := v.(string); ok {
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				return path
			}
		}
	case typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array:
		items, _ := v.([]any)
		for i, item := range items {
			if f := findBase64(item, typ.Elem(), path+"["+strconv.Itoa(i)+"]"); f != "" {
				return f
			}
		}
	case typ.Kind() == reflect.Struct:
		members, _ := v.(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(members)) {
			val := members[name]
			ft, ok := memberType(typ, name)
			if !ok {
				continue
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			if f := findBase64(val, ft, p); f != "" {
				return f
			}
		}
	}
	return ""
}

// memberType is the type of struct typ's JSON member name (matched as
// encoding/json matches it: exactly, else case-insensitively; embedded
// structs included).
func memberType(typ reflect.Type, name string) (reflect.Type, bool) {
	var folded reflect.Type
	for f := range typ.Fields() {
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if t, ok := memberType(et, name); ok {
					return t, true
				}
				continue
			}
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f.Type, true
		}
		if folded == nil && strings.EqualFold(tag, name) {
			folded = f.Type
		}
	}
	return folded, folded != nil
}

// writeJSON renders v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
