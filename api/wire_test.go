package api

import (
	"encoding/json"
	"reflect"
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
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Pointer:
		if v.Type().Elem().Kind() == reflect.Struct && v.Type().Elem().PkgPath() != "time" {
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

func filled[T any]() *T {
	var v T
	fill(reflect.ValueOf(&v).Elem())
	return &v
}

// sameJSON fails unless a and b encode to the same JSON value (member
// order aside).
func sameJSON(t *testing.T, name string, a, b any) {
	t.Helper()
	var x, y any
	for _, p := range []struct {
		v   any
		dst *any
	}{{a, &x}, {b, &y}} {
		raw, err := json.Marshal(p.v)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, p.dst); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(x, y) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		t.Errorf("%s: the wire answer differs from the domain value's encoding\n domain: %s\n wire:   %s", name, ja, jb)
	}
}

// The answers moved from the domain types' JSON to package protocol's
// types (a user is protocol.User itself, ca.User being its alias): the JSON is the same, for values with every field set and for
// values with every field empty that ca can give.
func TestWireAnswersKeepTheirJSON(t *testing.T) {
	for _, full := range []bool{true, false} {
		iss, app, d := &ca.Issuer{}, &auth.App{Origins: []string{}}, &ca.Device{}
		c, sl, det := &ca.Credential{}, &ca.Seal{}, &ca.UserDetail{}
		// What ca always sets (normProfile fills the profile; every
		// credential has its creation time) is set in the empty values too:
		// the wire types leave those out when empty.
		iss.Profile = *filled[ca.Profile]()
		c.CreatedAt = time.Now()
		if full {
			iss, app, d = filled[ca.Issuer](), filled[auth.App](), filled[ca.Device]()
			c, sl, det = filled[ca.Credential](), filled[ca.Seal](), filled[ca.UserDetail]()
		}
		sameJSON(t, "issuer", iss, wireIssuer(iss))
		sameJSON(t, "app", app, wireApp(app, ""))
		sameJSON(t, "device", d, wireDevice(d))
		sameJSON(t, "credential", c, wireCredential(c))
		sameJSON(t, "seal", sl, wireSeal(sl))
		sameJSON(t, "user detail", det, wireUserDetail(det))
	}
}
