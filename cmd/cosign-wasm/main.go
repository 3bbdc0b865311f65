//go:build js && wasm

// Command cosign-wasm is the phone's half of two-party SM2 for the phone
// web app, compiled to WebAssembly:
//
//	GOOS=js GOARCH=wasm go build -o cosign.wasm ./cmd/cosign-wasm
//
// Loaded with Go's wasm_exec.js, it sets globalThis.ukeygateCosign with
// four functions that take and return strings (JSON, package
// phone/jsapi): keygen(userID, pin), keygenAgain(seed, userID, pin),
// answer(seed, pin, challengeJSON, session, credential) and
// changePIN(seed, oldPIN, newPIN, credential).
// Each returns {"ok": result} or {"error": message}. The seed stays with
// the caller (wrapped by a non-extractable WebCrypto key); nothing is kept
// here between calls.
package main

import (
	"syscall/js"

	"github.com/ukeygate/ukeygate/phone/jsapi"
)

func wrap(f func(args []string) (string, error), n int) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) != n {
			return map[string]any{"error": "wrong number of arguments"}
		}
		s := make([]string, n)
		for i, a := range args {
			if a.Type() != js.TypeString {
				return map[string]any{"error": "arguments must be strings"}
			}
			s[i] = a.String()
		}
		out, err := f(s)
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		return map[string]any{"ok": out}
	})
}

func main() {
	js.Global().Set("ukeygateCosign", js.ValueOf(map[string]any{
		"keygen": wrap(func(a []string) (string, error) { return jsapi.KeyGen(a[0], a[1]) }, 2),
		"keygenAgain": wrap(func(a []string) (string, error) {
			return jsapi.KeyGenAgain(a[0], a[1], a[2])
		}, 3),
		"answer": wrap(func(a []string) (string, error) { return jsapi.Answer(a[0], a[1], a[2], a[3], a[4]) }, 5),
		"changePIN": wrap(func(a []string) (string, error) {
			return jsapi.ChangePIN(a[0], a[1], a[2], a[3])
		}, 4),
	}))
	select {}
}
