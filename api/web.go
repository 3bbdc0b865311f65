package api

import "net/http"

// The browser-facing files the gateway serves besides the v1 protocol:
// the embeddable widget (always) and the demo portal (when configured).
// Their handlers set their own Content-Security-Policy, which replaces the
// server's default one.

// Where the browser-facing files are served.
const (
	// PathWidget is the embeddable widget, qrlogin.WidgetJS.
	PathWidget = "/sdk/ukeygate.js"
	// PathDemo is the demo portal's prefix (portal.NewDemo's Prefix).
	PathDemo = "/demo"
)

// handleHTTP registers a plain http.Handler (one that answers its own
// errors) under pattern.
func (a *API) handleHTTP(pattern string, h http.Handler) {
	a.patterns = append(a.patterns, pattern)
	a.mux.Handle(pattern, h)
}
