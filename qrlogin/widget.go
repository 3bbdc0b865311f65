package qrlogin

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// WidgetJS is the embeddable browser widget served at /sdk/ukeygate.js:
// plain ES2017, no dependencies, exposing UKeyGate.mount(element, options).
// See the comment at the top of widget/ukeygate.js and docs/integration.md.
//
//go:embed widget/ukeygate.js
var WidgetJS []byte

// widgetETag is a strong validator of WidgetJS, computed once.
var widgetETag = func() string {
	sum := sha256.Sum256(WidgetJS)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// widgetModTime is the zero time: http.ServeContent then relies on the ETag
// alone (the embedded file has no meaningful modification time).
var widgetModTime time.Time

// WidgetHandler serves WidgetJS (GET and HEAD) with Content-Type
// text/javascript; charset=utf-8, a strong ETag answered with 304 on
// If-None-Match, and a short public cache lifetime so that portals pick up a
// new gateway version within minutes. The script is public and loaded
// cross-origin by portals, so it also allows CORS reads (for Subresource
// Integrity checks) and cross-origin embedding.
func WidgetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("ETag", widgetETag)
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		http.ServeContent(w, r, "ukeygate.js", widgetModTime, bytes.NewReader(WidgetJS))
	})
}
