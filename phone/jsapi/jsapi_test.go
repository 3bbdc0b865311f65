package jsapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/phone/jsapi"
)

// phoneHalf is the phone's half, called natively or through WebAssembly.
type phoneHalf func(t *testing.T, fn string, args ...string) string

func native(t *testing.T, fn string, args ...string) string {
	t.Helper()
	var out string
	var err error
	switch fn {
	case "keygen":
		out, err = jsapi.KeyGen(args[0], args[1])
	case "keygenAgain":
		out, err = jsapi.KeyGenAgain(args[0], args[1], args[2])
	case "answer":
		out, err = jsapi.Answer(args[0], args[1], args[2], args[3], args[4])
	case "changePIN":
		out, err = jsapi.ChangePIN(args[0], args[1], args[2], args[3])
	}
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	return out
}

// roundTrip makes a credential, signs, decrypts and changes the PIN with
// the phone's half given by half and the gateway's half of package cosign.
func roundTrip(t *testing.T, half phoneHalf) {
	const user, cred, pin = "usr_1", "crd_1", "246810"
	var kg jsapi.KeyGenResult
	if err := json.Unmarshal([]byte(half(t, "keygen", user, pin)), &kg); err != nil {
		t.Fatal(err)
	}
	g, pub, err := cosign.GatewayKeyGen(cosign.CredentialRequestBinding(user), kg.Cosign)
	if err != nil {
		t.Fatal(err)
	}
	// The request repeated after a lost answer: the same share.
	var again jsapi.KeyGenResult
	if err := json.Unmarshal([]byte(half(t, "keygenAgain", kg.Seed, user, pin)), &again); err != nil {
		t.Fatal(err)
	}
	if again.Seed != kg.Seed || g.MadeFrom(cosign.CredentialRequestBinding(user), pub, again.Cosign) != nil {
		t.Fatalf("the repeated request is not the same share's: %+v", again)
	}
	msg := []byte("signed by the phone web app's half")
	e, _ := gmcrypto.Digest(pub, msg, nil)
	st, err := cosign.GatewaySignStart(cosign.Binding{Session: "sess", Credential: cred, Digest: e})
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := json.Marshal(cosign.Challenge{Sign: []*cosign.SignStart{st.Start()}})
	var ans cosign.Answer
	if err := json.Unmarshal([]byte(half(t, "answer", kg.Seed, pin, string(ch), "sess", cred)), &ans); err != nil {
		t.Fatal(err)
	}
	sig, err := st.Finish(g, pub, ans.Sign[0])
	if err != nil || !sm2.VerifyASN1WithSM2(pub, nil, msg, sig) {
		t.Fatalf("signature: %v", err)
	}
	ct, _ := gmcrypto.Encrypt(pub, []byte("bid"), gmcrypto.FormatASN1)
	ds, err := cosign.GatewayDecryptStart(cosign.Binding{Session: "sess", Credential: cred}, g, ct, gmcrypto.FormatASN1)
	if err != nil {
		t.Fatal(err)
	}
	ch, _ = json.Marshal(cosign.Challenge{Decrypt: ds.Start()})
	ans = cosign.Answer{}
	if err := json.Unmarshal([]byte(half(t, "answer", kg.Seed, pin, string(ch), "sess", cred)), &ans); err != nil {
		t.Fatal(err)
	}
	if pt, err := ds.Finish(ans.Decrypt); err != nil || string(pt) != "bid" {
		t.Fatalf("decrypt: %q %v", pt, err)
	}
	var cp jsapi.ChangePINResult
	if err := json.Unmarshal([]byte(half(t, "changePIN", kg.Seed, pin, "802461", cred)), &cp); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Reshare(cosign.ReshareBinding(cred), pub, cp.Reshare); err != nil {
		t.Fatalf("re-share: %v", err)
	}
}

func TestNative(t *testing.T) {
	roundTrip(t, native)
	if _, err := jsapi.Answer("not base64!", "1", "{}", "s", "c"); !errors.Is(err, cosign.ErrInvalidInput) {
		t.Fatalf("bad seed: %v", err)
	}
	if _, err := jsapi.Answer("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1", "not json", "s", "c"); !errors.Is(err, cosign.ErrMalformed) {
		t.Fatalf("bad challenge: %v", err)
	}
}

// TestWebAssembly builds cmd/cosign-wasm for js/wasm and runs the same
// round trip through it under node with Go's wasm_exec.js: the half the
// phone web app loads. Skipped without node (failed under CI=true).
func TestWebAssembly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required when CI=true")
		}
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	wasm := filepath.Join(dir, "cosign.wasm")
	// The flags and environment of webapp's generator (wasmbuild), so that
	// its up-to-date check reuses the packages compiled here.
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", wasm, "github.com/ukeygate/ukeygate/cmd/cosign-wasm")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build for js/wasm: %v\n%s", err, out)
	}
	execJS := filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js")
	script, err := filepath.Abs(filepath.Join("testdata", "run.js"))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, func(t *testing.T, fn string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // failure guard only
		defer cancel()
		out, err := exec.CommandContext(ctx, nodeBin, append([]string{script, execJS, wasm, fn}, args...)...).Output()
		if err != nil {
			t.Fatalf("node %s: %v", fn, err)
		}
		var res struct {
			OK    string `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(out, &res); err != nil || res.Error != "" {
			t.Fatalf("%s under node: %s %v", fn, out, err)
		}
		return res.OK
	})
}

// BenchmarkWebAssembly times the phone's half as the phone web app runs
// it: the committed module (webapp/static/cosign.wasm.gz) under node's V8,
// loaded once, answering a signing and a decryption challenge and making
// a key. The metric wasm-ns/op counts the calls alone (node's own clock);
// the usual ns/op also holds node's start and the module's compilation.
func BenchmarkWebAssembly(b *testing.B) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node not installed")
	}
	gz, err := os.ReadFile(filepath.Join("..", "..", "webapp", "static", "cosign.wasm.gz"))
	if err != nil {
		b.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		b.Fatal(err)
	}
	mod, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	wasm := filepath.Join(dir, "cosign.wasm")
	if err := os.WriteFile(wasm, mod, 0o600); err != nil {
		b.Fatal(err)
	}
	execJS, _ := filepath.Abs(filepath.Join("..", "..", "webapp", "static", "vendor", "wasm_exec.js"))
	script, _ := filepath.Abs(filepath.Join("testdata", "bench.js"))

	const user, cred, pin = "usr_1", "crd_1", "246810"
	kgOut, err := jsapi.KeyGen(user, pin)
	if err != nil {
		b.Fatal(err)
	}
	var kg jsapi.KeyGenResult
	if err := json.Unmarshal([]byte(kgOut), &kg); err != nil {
		b.Fatal(err)
	}
	g, pub, err := cosign.GatewayKeyGen(cosign.CredentialRequestBinding(user), kg.Cosign)
	if err != nil {
		b.Fatal(err)
	}
	e, _ := gmcrypto.Digest(pub, []byte("bench"), nil)
	st, err := cosign.GatewaySignStart(cosign.Binding{Session: "sess", Credential: cred, Digest: e})
	if err != nil {
		b.Fatal(err)
	}
	signCh, _ := json.Marshal(cosign.Challenge{Sign: []*cosign.SignStart{st.Start()}})
	ct, _ := gmcrypto.Encrypt(pub, make([]byte, 32), gmcrypto.FormatC1C3C2)
	ds, err := cosign.GatewayDecryptStart(cosign.Binding{Session: "sess", Credential: cred}, g, ct, gmcrypto.FormatC1C3C2)
	if err != nil {
		b.Fatal(err)
	}
	decCh, _ := json.Marshal(cosign.Challenge{Decrypt: ds.Start()})

	run := func(b *testing.B, fn string, args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // failure guard only
		defer cancel()
		out, err := exec.CommandContext(ctx, nodeBin, append([]string{script, execJS, wasm, strconv.Itoa(b.N), fn}, args...)...).Output()
		if err != nil {
			b.Fatalf("node: %v", err)
		}
		ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			b.Fatalf("node printed %q", out)
		}
		b.ReportMetric(ns/float64(b.N), "wasm-ns/op")
	}
	b.Run("answer-sign", func(b *testing.B) { run(b, "answer", kg.Seed, pin, string(signCh), "sess", cred) })
	b.Run("answer-decrypt", func(b *testing.B) { run(b, "answer", kg.Seed, pin, string(decCh), "sess", cred) })
	b.Run("keygen", func(b *testing.B) { run(b, "keygen", user, pin) })
}
