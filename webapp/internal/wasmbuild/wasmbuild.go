// Package wasmbuild builds the phone web app's WebAssembly module (the
// phone's half of two-party SM2, cmd/cosign-wasm) reproducibly, and
// computes the stamp that ties the committed module to the Go version and
// the sources it was built from. `go generate ./webapp` runs it (see gen);
// webapp's tests check the committed files against it.
//
// It is a build tool: the gateway never imports it.
package wasmbuild

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
)

// Package is the command compiled to WebAssembly.
const Package = "github.com/ukeygate/ukeygate/cmd/cosign-wasm"

// Flags are the build flags: no file system paths, no build id, no symbol
// table, so the same Go version and sources give the same bytes.
var Flags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

func env() []string {
	return append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
}

// Build compiles Package for js/wasm and returns the module.
func Build(dir string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "cosign-wasm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "cosign.wasm")
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", out, Package)
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = dir, env()
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build for js/wasm: %v\n%s", err, b)
	}
	return os.ReadFile(out)
}

// Gzip compresses b deterministically (no name, no time).
func Gzip(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Gunzip undoes Gzip.
func Gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// Half are the packages that make the phone's half: their files are in
// SourceDigest. The module also compiles package crypto (shared with the
// whole gateway and changed often, of which the half uses a few helpers);
// it is deliberately left out so that unrelated gateway work does not
// stale the module. A change there that breaks the half shows in the
// tests that run the committed module against the current gateway (the
// browser test) and the one that builds it from source (phone/jsapi).
var Half = []string{
	"github.com/ukeygate/ukeygate/cmd/cosign-wasm",
	"github.com/ukeygate/ukeygate/phone/jsapi",
	"github.com/ukeygate/ukeygate/crypto/cosign",
}

// SourceDigest is SHA-256 over what the module is built from: the build
// flags, the files of the Half packages (import path, file names and
// contents), and every other module's path and version (their contents
// are pinned by go.sum). The Go version is not in it (see Stamp).
func SourceDigest(dir string) (string, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,Standard,GoFiles,EmbedFiles,Module", Package)
	cmd.Dir, cmd.Env = dir, env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list: %v\n%s", err, stderr.Bytes())
	}
	type pkg struct {
		ImportPath string
		Dir        string
		Standard   bool
		GoFiles    []string
		EmbedFiles []string
		Module     *struct {
			Path    string
			Version string
			Main    bool
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "flags %q\n", Flags)
	dec := json.NewDecoder(bytes.NewReader(out))
	var lines []string
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			return "", err
		}
		switch {
		case p.Standard:
			continue
		case p.Module == nil:
			return "", errors.New("wasmbuild: package " + p.ImportPath + " outside any module")
		case !p.Module.Main:
			lines = append(lines, "module "+p.Module.Path+"@"+p.Module.Version)
			continue
		case !slices.Contains(Half, p.ImportPath):
			continue
		}
		files := append(append([]string{}, p.GoFiles...), p.EmbedFiles...)
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				return "", err
			}
			sum := sha256.Sum256(b)
			lines = append(lines, "file "+p.ImportPath+"/"+f+" "+hex.EncodeToString(sum[:]))
		}
	}
	sort.Strings(lines)
	for _, l := range slices.Compact(lines) {
		fmt.Fprintln(h, l)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Stamp records how the committed module was made.
type Stamp struct {
	// GoVersion built it (runtime.Version of the generator); the module
	// and wasm_exec.js belong to that version.
	GoVersion string
	// WasmSHA256 is SHA-256 of the module (uncompressed).
	WasmSHA256 string
	// Sources is SourceDigest at build time.
	Sources string
}

// String is the stamp file's one line.
func (s Stamp) String() string {
	return fmt.Sprintf("%s wasm-sha256=%s sources=%s\n", s.GoVersion, s.WasmSHA256, s.Sources)
}

// ParseStamp reads String's format.
func ParseStamp(b []byte) (Stamp, error) {
	f := strings.Fields(string(b))
	if len(f) != 3 || !strings.HasPrefix(f[1], "wasm-sha256=") || !strings.HasPrefix(f[2], "sources=") {
		return Stamp{}, fmt.Errorf("wasmbuild: stamp %q", b)
	}
	return Stamp{GoVersion: f[0], WasmSHA256: strings.TrimPrefix(f[1], "wasm-sha256="), Sources: strings.TrimPrefix(f[2], "sources=")}, nil
}

// WasmExecJS is the Go distribution's JavaScript support file for
// js/wasm modules, and LicensePath its licence.
func WasmExecJS() string  { return filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js") }
func LicensePath() string { return filepath.Join(runtime.GOROOT(), "LICENSE") }

// SumHex is hex SHA-256 of b.
func SumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
