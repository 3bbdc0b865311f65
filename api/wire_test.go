package api

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
)

// fill sets every exported field of the struct v points to (recursively,
// one element per slice) to a non-zero value; interfaces and pointers to
// non-struct types stay nil.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s-" + v.Type().Name())
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		if e := v.Type().Elem(); e.Kind() == reflect.Pointer && foreign(e.Elem()) {
			return // parsed certificates: not on the wire
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Pointer:
		if v.Type().Elem().Kind() == reflect.Struct && v.Type().Elem().PkgPath() != "time" && !foreign(v.Type().Elem()) {
			p := reflect.New(v.Type().Elem())
			fill(p.Elem())
			v.Set(p)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && f.Tag.Get("json") != "-" {
				fill(v.Field(i))
			}
		}
	}
}

// foreign reports whether t comes from outside this module (parsed
// certificates and keys the domain values carry beside their PEM).
func foreign(t reflect.Type) bool {
	return t.PkgPath() != "" && !strings.HasPrefix(t.PkgPath(), "github.com/ukeygate/")
}

func filled[T any]() *T {
	var v T
	fill(reflect.ValueOf(&v).Elem())
	return &v
}

var updateWire = flag.Bool("update-wire", false, "rewrite testdata/wire/*.json from the current answers")

// keepsMembers fails unless got holds every member of want with the same
// value, recursively (objects may gain members: the v1 contract is "add,
// don't rename"; arrays and scalars must be equal).
func keepsMembers(t *testing.T, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: was an object, is now %v", path, got)
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s.%s: member gone from the answer (renamed or removed)", path, k)
				continue
			}
			keepsMembers(t, path+"."+k, wv, gv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: was %v, is now %v", path, w, got)
			return
		}
		for i := range w {
			keepsMembers(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
		}
	default:
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: was %v, is now %v", path, want, got)
		}
	}
}

// The operator and phone answers are package protocol's types, filled from
// the domain values by the wire* functions (the domain types carry no JSON
// of their own). testdata/wire holds each answer's JSON for a value with
// every field set and for the emptiest value ca gives, as first recorded
// when the answers moved to package protocol (they were then checked equal
// to the domain types' own JSON): every member recorded there must still
// be there with the same value. go test ./api -run TestWireAnswersKeepTheirJSON -update-wire
// records new members after an addition.
func TestWireAnswersKeepTheirJSON(t *testing.T) {
	t.Parallel()
	for _, full := range []bool{true, false} {
		iss, app, d := &ca.Issuer{}, &auth.App{Origins: []string{}}, &ca.Device{}
		c, sl, det := &ca.Credential{}, &ca.Seal{}, &ca.UserDetail{}
		// What ca always sets (normProfile fills the profile; every
		// credential has its creation time) is set in the empty values too:
		// the wire types leave those out when empty.
		iss.Profile = *filled[ca.Profile]()
		c.CreatedAt = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
		if full {
			iss, app, d = filled[ca.Issuer](), filled[auth.App](), filled[ca.Device]()
			c, sl, det = filled[ca.Credential](), filled[ca.Seal](), filled[ca.UserDetail]()
		}
		suffix := map[bool]string{true: "full", false: "empty"}[full]
		for _, a := range []struct {
			name string
			v    any
		}{
			{"issuer", wireIssuer(iss)},
			{"app", wireApp(app, "")},
			{"device", wireDevice(d)},
			{"credential", wireCredential(c)},
			{"seal", wireSeal(sl)},
			{"user_detail", wireUserDetail(det)},
		} {
			file := filepath.Join("testdata", "wire", a.name+"-"+suffix+".json")
			raw, err := json.MarshalIndent(a.v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if *updateWire {
				if err := os.WriteFile(file, append(raw, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			recorded, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			if err := json.Unmarshal(recorded, &want); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			keepsMembers(t, a.name+"-"+suffix, want, got)
		}
	}
}
