package webapp_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ukeygate/ukeygate/webapp"
	"github.com/ukeygate/ukeygate/webapp/internal/wasmbuild"
)

func readStamp(t *testing.T) (wasmbuild.Stamp, []byte, []byte) {
	t.Helper()
	b, err := os.ReadFile("cosign-wasm.stamp")
	if err != nil {
		t.Fatal(err)
	}
	st, err := wasmbuild.ParseStamp(b)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := os.ReadFile(filepath.Join("static", "cosign.wasm.gz"))
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := wasmbuild.Gunzip(gz)
	if err != nil {
		t.Fatal(err)
	}
	return st, gz, wasm
}

// TestCosignWasmServed: /m/cosign.wasm is the module, as application/wasm,
// gzip-encoded to clients that accept it and plain to the others.
func TestCosignWasmServed(t *testing.T) {
	st, gz, wasm := readStamp(t)
	h := webapp.New()
	r := get(t, h, "GET", "/m/cosign.wasm", map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/wasm" || r.Header.Get("Content-Encoding") != "gzip" ||
		!bytes.Equal(b, gz) || r.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: %d %v (%d bytes)", r.StatusCode, r.Header, len(b))
	}
	etag := r.Header.Get("ETag")
	if r := get(t, h, "GET", "/m/cosign.wasm", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": etag}); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r.StatusCode)
	}
	for _, ae := range []string{"", "identity", "gzip;q=0"} {
		r = get(t, h, "GET", "/m/cosign.wasm", map[string]string{"Accept-Encoding": ae})
		b, _ = io.ReadAll(r.Body)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Encoding") != "" || wasmbuild.SumHex(b) != st.WasmSHA256 || !bytes.Equal(b, wasm) {
			t.Errorf("Accept-Encoding %q: %d %v (%d bytes)", ae, r.StatusCode, r.Header, len(b))
		}
		if r.Header.Get("ETag") == etag {
			t.Error("the plain and the gzip answers share an ETag")
		}
	}
	if r := get(t, h, "GET", "/m/cosign.wasm.gz", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("the stored name is served: %d", r.StatusCode)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatal("cosign.wasm.gz does not hold a WebAssembly module")
	}
}

// TestCosignWasmUpToDate: the committed module was built from the sources
// of this tree (SourceDigest: this module's files it compiles, the other
// modules' versions, the build flags), and, when this Go is the one that
// built it, rebuilding gives the same bytes and wasm_exec.js is this Go's.
// A failure means: run `go generate ./webapp` and commit the result.
func TestCosignWasmUpToDate(t *testing.T) {
	st, _, wasm := readStamp(t)
	if got := wasmbuild.SumHex(wasm); got != st.WasmSHA256 {
		t.Fatalf("static/cosign.wasm.gz holds %s, the stamp says %s: run go generate ./webapp", got, st.WasmSHA256)
	}
	src, err := wasmbuild.SourceDigest(".")
	if err != nil {
		t.Fatal(err)
	}
	if src != st.Sources {
		t.Fatalf("the sources of cmd/cosign-wasm changed since static/cosign.wasm.gz was built (%s, stamp %s): run go generate ./webapp", src, st.Sources)
	}
	lic, err := os.ReadFile(filepath.Join("static", "vendor", "wasm_exec.LICENSE.txt"))
	if err != nil || !bytes.Contains(lic, []byte("The Go Authors")) {
		t.Fatalf("wasm_exec.js's licence: %v", err)
	}
	if runtime.Version() != st.GoVersion {
		t.Skipf("built with %s, this is %s: byte-for-byte rebuild not comparable (the sources match)", st.GoVersion, runtime.Version())
	}
	want, err := os.ReadFile(wasmbuild.WasmExecJS())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join("static", "vendor", "wasm_exec.js")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("static/vendor/wasm_exec.js is not %s's (%v): run go generate ./webapp", runtime.Version(), err)
	}
	if testing.Short() {
		t.Skip("the rebuild compiles a WebAssembly module")
	}
	again, err := wasmbuild.Build(".")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, wasm) {
		t.Fatalf("rebuilding gives %s, the committed module is %s: not reproducible, or stale", wasmbuild.SumHex(again), st.WasmSHA256)
	}
}
