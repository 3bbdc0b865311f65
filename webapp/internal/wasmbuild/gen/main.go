// Command gen writes the phone web app's WebAssembly files (run by
// `go generate ./webapp` from the webapp folder): static/cosign.wasm.gz
// (cmd/cosign-wasm built reproducibly, gzip), static/vendor/wasm_exec.js
// and its licence from the Go distribution that built it, and
// cosign-wasm.stamp (Go version, module digest, source digest).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/ukeygate/ukeygate/webapp/internal/wasmbuild"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	wasm, err := wasmbuild.Build(".")
	if err != nil {
		return err
	}
	src, err := wasmbuild.SourceDigest(".")
	if err != nil {
		return err
	}
	gz, err := wasmbuild.Gzip(wasm)
	if err != nil {
		return err
	}
	execJS, err := os.ReadFile(wasmbuild.WasmExecJS())
	if err != nil {
		return err
	}
	lic, err := os.ReadFile(wasmbuild.LicensePath())
	if err != nil {
		return err
	}
	stamp := wasmbuild.Stamp{GoVersion: runtime.Version(), WasmSHA256: wasmbuild.SumHex(wasm), Sources: src}
	for name, b := range map[string][]byte{
		filepath.Join("static", "cosign.wasm.gz"):                  gz,
		filepath.Join("static", "vendor", "wasm_exec.js"):          execJS,
		filepath.Join("static", "vendor", "wasm_exec.LICENSE.txt"): lic,
		"cosign-wasm.stamp": []byte(stamp.String()),
	} {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("cosign.wasm: %d bytes (%d gzip), %s", len(wasm), len(gz), stamp)
	return nil
}
