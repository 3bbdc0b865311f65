package bench_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/ukeygate/ukeygate/bench"
	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/server/servertest"
)

const (
	mod   = "github.com/ukeygate/ukeygate/"
	gmsm  = "github.com/emmansun/gmsm/"
	fips  = "crypto/internal/fips140/"
	serve = "net/http.(*conn).serve"
	exit  = "runtime.goexit"
)

// stackCases are stacks as a CPU profile holds them, leaf first, with the
// category each must count for. A frame written "a|b" is one location
// with b inlined into a (a the innermost).
var stackCases = []struct {
	name  string
	stack []string
	want  string
}{
	{"SM3 block under the PIN KDF", []string{gmsm + "sm3.block", gmsm + "sm3.(*digest).Write", fips + "hmac.(*HMAC).Write",
		fips + "pbkdf2.Key[go.shape.func() hash.Hash]", "crypto/pbkdf2.Key[...]", mod + "crypto.DerivePINKey",
		mod + "ca.(*Service).UnlockKey", mod + "api.(*Handler).confirm", serve, exit}, bench.CatKDF},
	{"SM3 block under the PIN KDF's own PBKDF2", []string{gmsm + "internal/sm3.blockAVX2", gmsm + "internal/sm3.(*digest).checkSum", gmsm + "internal/sm3.(*digest).Sum",
		mod + "crypto.pbkdf2HMACSM3.func3", mod + "crypto.pbkdf2HMACSM3", mod + "crypto.DerivePINKey", mod + "ca.(*Service).UnlockKey", serve, exit}, bench.CatKDF},
	{"restoring the HMAC state in the PIN KDF", []string{gmsm + "internal/sm3.(*digest).UnmarshalBinary", mod + "crypto.restoreSM3", mod + "crypto.pbkdf2HMACSM3.func3", serve, exit}, bench.CatKDF},
	{"HMAC setup in DerivePINKey itself", []string{"crypto/hmac.New", mod + "crypto.DerivePINKey", mod + "ca.(*Service).UnlockKey", serve, exit}, bench.CatKDF},
	{"allocation inside the KDF", []string{"runtime.mallocgc", fips + "pbkdf2.Key[...]", mod + "crypto.DerivePINKey", serve, exit}, bench.CatRuntime},
	{"SM3 under an SM2 signature", []string{gmsm + "sm3.block", gmsm + "sm2.(*PrivateKey).Sign", mod + "crypto.Sign", mod + "session.(*Confirmer).perform", serve, exit}, bench.CatCrypto},
	{"SM2 field arithmetic", []string{gmsm + "internal/sm2ec.p256OrdSqr", gmsm + "internal/sm2ec.(*SM2P256Point).ScalarMult", gmsm + "sm2.Verify", mod + "auth.(*DeviceVerifier).Verify", serve, exit}, bench.CatCrypto},
	{"SM3 for the audit chain", []string{gmsm + "sm3.block", gmsm + "sm3.Sum", mod + "audit.(*Log).chain", mod + "session.(*Confirmer).Confirm", serve, exit}, bench.CatOther},
	{"SM4-GCM sealing in the vault", []string{gmsm + "sm4.encryptBlocksAsm", gmsm + "cipher.(*gcm).Seal", mod + "vault.(*Store).seal", mod + "vault.(*Store).Txn", mod + "session.(*Store).complete", serve, exit}, bench.CatStorage},
	{"SM4-GCM key unwrap", []string{gmsm + "sm4.encryptBlocksAsm", "crypto/cipher.(*gcmFallback).Open", mod + "crypto.Unwrap", mod + "ca.(*Service).UnlockKey", serve, exit}, bench.CatCrypto},
	{"RSA under big numbers", []string{fips + "bigmod.addMulVVW1024", fips + "bigmod.(*Nat).Exp", fips + "rsa.decrypt", "crypto/rsa.SignPKCS1v15", mod + "crypto.Sign", serve, exit}, bench.CatCrypto},
	{"certificate parsing", []string{"encoding/asn1.parseField", "crypto/x509.ParseCertificate", mod + "ca.(*Service).credential", serve, exit}, bench.CatCrypto},
	{"bbolt fdatasync", []string{"syscall.Syscall", "syscall.Fdatasync", "go.etcd.io/bbolt.fdatasync", "go.etcd.io/bbolt.(*Tx).Commit", mod + "storage.(*Bolt).commit", exit}, bench.CatStorage},
	{"etcd client over gRPC's HTTP/2", []string{"internal/poll.(*FD).Write", "net.(*conn).Write", "golang.org/x/net/http2.(*Framer).WriteData",
		"google.golang.org/grpc/internal/transport.(*loopyWriter).run", exit}, bench.CatStorage},
	{"generic storage helper", []string{"runtime.memmove", mod + "storage.loadRecord[go.shape.*github.com/ukeygate/ukeygate/ca.User]", mod + "ca.(*Service).user", serve, exit}, bench.CatStorage},
	{"response write syscall", []string{"syscall.Syscall", "internal/poll.(*FD).Write", "net.(*conn).Write", "bufio.(*Writer).Flush", "net/http.(*response).finishRequest", serve, exit}, bench.CatHTTP},
	{"websocket frame", []string{"internal/poll.(*FD).Write", "net.(*conn).Write", "github.com/gorilla/websocket.(*Conn).WriteMessage", mod + "api.(*wsClient).flush", exit}, bench.CatHTTP},
	{"TLS record under net/http", []string{fips + "aes/gcm.seal", "crypto/tls.(*halfConn).encrypt", "crypto/tls.(*Conn).Write", "net/http.(*conn).serve", exit}, bench.CatHTTP},
	{"JSON encoding", []string{"strconv.appendQuotedWith", "encoding/json.appendString[...]", "encoding/json.(*encodeState).marshal", mod + "api.render", serve, exit}, bench.CatJSON},
	{"our MarshalJSON under encoding/json", []string{"encoding/base64.(*Encoding).Encode", mod + "protocol.Bytes.MarshalJSON", "encoding/json.marshalerEncoder", mod + "api.render", serve, exit}, bench.CatJSON},
	{"allocation inside JSON", []string{"runtime.memclrNoHeapPointers", "runtime.mallocgc", "runtime.growslice", "encoding/json.(*decodeState).literalStore", serve, exit}, bench.CatRuntime},
	{"logging through fmt", []string{"fmt.(*pp).doPrintf", "log/slog.(*handleState).appendAttr", "log/slog.(*Logger).log", mod + "server.(*Server).logRequest", serve, exit}, bench.CatLog},
	{"GC mark worker", []string{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker.func2", "runtime.systemstack", "runtime.gcBgMarkWorker", exit}, bench.CatRuntime},
	{"scheduler idle", []string{"runtime.futex", "runtime.futexsleep", "runtime.notesleep", "runtime.stopm", "runtime.findRunnable", "runtime.schedule", "runtime.park_m", "runtime.mcall"}, bench.CatRuntime},
	{"channel wake-up in the hub", []string{"runtime.futex", "runtime.futexwakeup", "runtime.wakep", "runtime.ready", "runtime.chansend", mod + "session.(*Hub).publish", exit}, bench.CatOther},
	{"GC pseudo-frame", []string{"runtime._GC"}, bench.CatRuntime},
	{"metrics library", []string{"sync/atomic.AddUint64", "github.com/prometheus/client_golang/prometheus.(*counter).Inc", mod + "server.(*httpMetrics).observe", serve, exit}, bench.CatOther},
	{"only plumbing", []string{"runtime.memmove", "bytes.(*Buffer).Write", exit}, bench.CatOther},
	{"inlined: JSON inside our handler, one location", []string{"encoding/json.(*encodeState).string|" + mod + "api.render", serve, exit}, bench.CatJSON},
	{"inlined: our handler inside JSON, one location", []string{mod + "api.render|encoding/json.Marshal", serve, exit}, bench.CatOther},
}

// synthetic builds a CPU profile with one sample per stack, the i-th
// holding counts[i] samples of 10 ms each, written and parsed back as
// pprof's own files are.
func synthetic(t *testing.T, stacks [][]string, counts []int64) *profile.Profile {
	t.Helper()
	const period = int64(10 * time.Millisecond)
	p := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        period,
		DurationNanos: int64(30 * time.Second),
	}
	funcs := map[string]*profile.Function{}
	fn := func(name string) *profile.Function {
		if f, ok := funcs[name]; ok {
			return f
		}
		f := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name}
		p.Function = append(p.Function, f)
		funcs[name] = f
		return f
	}
	for i, st := range stacks {
		s := &profile.Sample{Value: []int64{counts[i], counts[i] * period}}
		for _, frame := range st {
			loc := &profile.Location{ID: uint64(len(p.Location) + 1), Address: uint64(0x1000 + len(p.Location))}
			for _, name := range strings.Split(frame, "|") {
				loc.Line = append(loc.Line, profile.Line{Function: fn(name), Line: 1})
			}
			p.Location = append(p.Location, loc)
			s.Location = append(s.Location, loc)
		}
		p.Sample = append(p.Sample, s)
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestClassifyProfile(t *testing.T) {
	// One profile: the i-th stack holds i+1 samples, so that every
	// category's sum is a known, distinct figure.
	stacks := make([][]string, len(stackCases))
	counts := make([]int64, len(stackCases))
	want := map[string]int64{}
	var total int64
	for i, tc := range stackCases {
		stacks[i], counts[i] = tc.stack, int64(i+1)
		want[tc.want] += counts[i]
		total += counts[i]
	}
	const sessions = 8
	r, err := bench.ClassifyProfile(synthetic(t, stacks, counts), sessions)
	if err != nil {
		t.Fatal(err)
	}
	if r.Samples != total || time.Duration(r.CPU) != time.Duration(total)*10*time.Millisecond || r.Sessions != sessions ||
		time.Duration(r.Window) != 30*time.Second {
		t.Fatalf("totals: %+v, want %d samples", r, total)
	}
	if got, w := r.PerSession, float64(total)*10/sessions; math.Abs(got-w) > 1e-9 {
		t.Errorf("ms per session %g, want %g", got, w)
	}
	if len(r.Categories) != len(bench.ProfileCategories) {
		t.Fatalf("%d categories, want %d", len(r.Categories), len(bench.ProfileCategories))
	}
	var shares float64
	for i, c := range r.Categories {
		if c.Category != bench.ProfileCategories[i] {
			t.Errorf("category %d is %s, want %s", i, c.Category, bench.ProfileCategories[i])
		}
		if c.Samples != want[c.Category] {
			t.Errorf("%s: %d samples, want %d", c.Category, c.Samples, want[c.Category])
		}
		if w := float64(want[c.Category]) * 10 / sessions; math.Abs(c.PerSession-w) > 1e-9 {
			t.Errorf("%s: %g ms per session, want %g", c.Category, c.PerSession, w)
		}
		shares += c.Share
	}
	if math.Abs(shares-1) > 1e-9 {
		t.Errorf("shares add up to %g", shares)
	}

	// Each stack alone, so that a failure names it.
	for _, tc := range stackCases {
		r, err := bench.ClassifyProfile(synthetic(t, [][]string{tc.stack}, []int64{1}), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Categories {
			if c.Samples == 1 && c.Category != tc.want {
				t.Errorf("%s: counted as %s, want %s", tc.name, c.Category, tc.want)
			}
		}
	}

	// The deciding frames: the standard PBKDF2's is its inner Key, our
	// own PBKDF2's the innermost of its functions (sm3 and hmac are
	// plumbing); the plumbing-only stack has none. (Stack i has i+1
	// samples: stack 0 is decided by the standard pbkdf2, 1 by our
	// PBKDF2's closure, 2 by restoreSM3, 3 by DerivePINKey.)
	wantTop := []bench.FrameShare{
		{Frame: mod + "crypto.DerivePINKey", Samples: 4}, {Frame: mod + "crypto.restoreSM3", Samples: 3},
		{Frame: mod + "crypto.pbkdf2HMACSM3.func3", Samples: 2}, {Frame: fips + "pbkdf2.Key[go.shape.func() hash.Hash]", Samples: 1},
	}
	top := r.Category(bench.CatKDF).Top
	ok := len(top) == len(wantTop)
	for i := 0; ok && i < len(top); i++ {
		ok = top[i].Frame == wantTop[i].Frame && top[i].Samples == wantTop[i].Samples
	}
	if !ok {
		t.Errorf("kdf top frames %+v, want %+v", top, wantTop)
	}
	found := false
	for _, f := range r.Category(bench.CatOther).Top {
		found = found || f.Frame == "(none)"
	}
	if !found {
		t.Errorf("other's top frames lack (none): %+v", r.Category(bench.CatOther).Top)
	}

	// No sessions: no per-session figures, the shares still.
	r, err = bench.ClassifyProfile(synthetic(t, stacks[:1], counts[:1]), 0)
	if err != nil || r.PerSession != 0 || r.Category(stackCases[0].want).Share != 1 {
		t.Fatalf("no sessions: %+v, %v", r, err)
	}
}

func TestClassifyRefusesOtherProfiles(t *testing.T) {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}},
		Sample:     []*profile.Sample{{Value: []int64{1, 64}}},
	}
	if _, err := bench.ClassifyProfile(p, 1); !errors.Is(err, bench.ErrProfile) {
		t.Fatalf("heap profile: %v, want ErrProfile", err)
	}
}

func TestProfileURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:6060":                           "http://127.0.0.1:6060/debug/pprof/profile?seconds=7",
		"http://127.0.0.1:6060/":                          "http://127.0.0.1:6060/debug/pprof/profile?seconds=7",
		"http://[::1]:6060/debug/pprof/profile?seconds=3": "http://[::1]:6060/debug/pprof/profile?seconds=7",
		"https://ops.example/x/debug/pprof/profile":       "https://ops.example/x/debug/pprof/profile?seconds=7",
	} {
		if got, err := bench.ProfileURL(in, 7); err != nil || got != want {
			t.Errorf("ProfileURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "127.0.0.1:6060", "ftp://h/x", "http://u:p@h:1", "http://h:1/#f", "http:///x"} {
		if _, err := bench.ProfileURL(in, 7); !errors.Is(err, bench.ErrInvalidConfig) {
			t.Errorf("ProfileURL(%q): %v, want ErrInvalidConfig", in, err)
		}
	}
}

func TestFetchCPUProfile(t *testing.T) {
	var buf bytes.Buffer
	if err := synthetic(t, [][]string{stackCases[0].stack}, []int64{3}).Write(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("seconds") != "2" {
			http.Error(w, "seconds", http.StatusBadRequest)
			return
		}
		w.Write(good)
	})
	mux.HandleFunc("/busy/debug/pprof/profile", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Could not enable CPU profiling: cpu profiling already in use", http.StatusInternalServerError)
	})
	mux.HandleFunc("/garbage/debug/pprof/profile", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>not a profile</html>"))
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	ctx := context.Background()

	u, _ := bench.ProfileURL(hs.URL, 2)
	raw, p, err := bench.FetchCPUProfile(ctx, u)
	if err != nil || !bytes.Equal(raw, good) || len(p.Sample) != 1 {
		t.Fatalf("fetch: %v (%d bytes)", err, len(raw))
	}
	for _, path := range []string{"/busy/debug/pprof/profile", "/garbage/debug/pprof/profile", "/nowhere"} {
		u, _ := bench.ProfileURL(hs.URL+path, 2)
		if _, _, err := bench.FetchCPUProfile(ctx, u); !errors.Is(err, bench.ErrProfile) {
			t.Errorf("%s: %v, want ErrProfile", path, err)
		}
	}
}

// TestRunWithServerProfile runs a short load against a server with its
// profiling listener on and checks the report's profile adds up; then the
// same against the public listener, which has no profile to give.
func TestRunWithServerProfile(t *testing.T) {
	ts := servertest.Start(t, quiet, func(c *config.Config) { c.Debug.PprofListen = "127.0.0.1:0" })
	ctx, cancel := context.WithTimeout(context.Background(), runGuard)
	defer cancel()
	cfg := bench.DefaultConfig()
	cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
	cfg.Sessions, cfg.Duration, cfg.Concurrency = 0, time.Second, 4
	cfg.CPUProfileFrom = "http://" + ts.Server.PprofAddr()
	r, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pr := r.CPUProfile
	if pr == nil || len(r.CPUProfileRaw) == 0 {
		t.Fatal("no profile in the report")
	}
	// The profile's own duration starts when the server's profile writer
	// first runs, a little after the one second it sleeps began: under
	// load it reads short by milliseconds (997.6 ms in one CI run).
	if pr.Sessions > r.Completed || time.Duration(pr.Window) < 900*time.Millisecond || len(pr.Categories) != len(bench.ProfileCategories) {
		t.Fatalf("profile %+v of a run with %d completed", pr, r.Completed)
	}
	var cpu bench.Duration
	var n int64
	for _, c := range pr.Categories {
		cpu += c.CPU
		n += c.Samples
	}
	if cpu != pr.CPU || n != pr.Samples {
		t.Fatalf("categories add up to %d samples, %v; profile %d, %v", n, cpu, pr.Samples, pr.CPU)
	}
	if p, err := profile.ParseData(r.CPUProfileRaw); err != nil || len(p.Sample) == 0 && pr.Samples > 0 {
		t.Fatalf("raw profile: %v", err)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "ms/session") || !strings.Contains(text.String(), bench.CatKDF) {
		t.Fatalf("text report: %v\n%s", err, text.String())
	}

	// The public listener serves no profile.
	cfg.CPUProfileFrom = ts.URL
	if _, err := bench.Run(ctx, cfg); !errors.Is(err, bench.ErrProfile) {
		t.Fatalf("profile from the public listener: %v, want ErrProfile", err)
	}
}
