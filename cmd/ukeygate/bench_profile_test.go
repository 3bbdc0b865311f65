package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/ukeygate/ukeygate/bench"
)

// writeProfile writes a CPU profile of two stacks: 3 samples in the PIN
// KDF, 1 in encoding/json (10 ms each).
func writeProfile(t *testing.T) string {
	t.Helper()
	const period = int64(10 * time.Millisecond)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     period,
	}
	for i, stack := range [][]string{
		{"github.com/emmansun/gmsm/sm3.block", "crypto/pbkdf2.Key[...]", "github.com/ukeygate/ukeygate/crypto.DerivePINKey", "runtime.goexit"},
		{"encoding/json.Marshal", "github.com/ukeygate/ukeygate/api.render", "runtime.goexit"},
	} {
		n := int64(3 - 2*i)
		s := &profile.Sample{Value: []int64{n, n * period}}
		for _, name := range stack {
			f := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name}
			l := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: f}}}
			p.Function, p.Location = append(p.Function, f), append(p.Location, l)
			s.Location = append(s.Location, l)
		}
		p.Sample = append(p.Sample, s)
	}
	path := filepath.Join(t.TempDir(), "cpu.pb.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBenchProfile(t *testing.T) {
	path := writeProfile(t)
	code, out, errOut := runCLI(t, "bench", "profile", path, "--sessions", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r bench.ProfileReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	kdf, js := r.Category(bench.CatKDF), r.Category(bench.CatJSON)
	if r.Samples != 4 || r.Sessions != 2 || kdf.Samples != 3 || js.Samples != 1 || kdf.PerSession != 15 || js.PerSession != 5 {
		t.Fatalf("report %+v", r)
	}
	if code, out, errOut = runCLI(t, "bench", "profile", path, "--sessions", "2"); code != 0 || len(out) == 0 {
		t.Fatalf("text: exit %d: %s", code, errOut)
	}

	notProfile := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(notProfile, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench", "profile"}, 2, "accepts 1 arg"},
		{[]string{"bench", "profile", path, "--sessions", "-1"}, 2, "--sessions"},
		{[]string{"bench", "profile", filepath.Join(t.TempDir(), "missing")}, 1, "no such file"},
		{[]string{"bench", "profile", notProfile}, 1, notProfile},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
		}
		checkOneLine(t, errOut, tc.want)
	}
}
