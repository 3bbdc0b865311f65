package webapp

// The phone's half of two-party SM2 (cmd/cosign-wasm) ships as
// static/cosign.wasm.gz with Go's static/vendor/wasm_exec.js; both are
// generated, reproducibly, and committed (TestCosignWasmUpToDate checks
// them against the sources and the Go version in cosign-wasm.stamp).
// After changing crypto/cosign, phone/jsapi or cmd/cosign-wasm, or Go:
//
//	go generate ./webapp

//go:generate go run ./internal/wasmbuild/gen
