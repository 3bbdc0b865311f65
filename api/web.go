package api

import "net/http"

// The browser-facing files the gateway serves besides the v1 protocol:
// the embeddable widget (always; qrlogin.WidgetHandler, public, CORS-open)
// and the demo portal (when configured; demo.New, built by the
// server). The demo sets its own Content-Security-Policy and
// X-Frame-Options on every answer, replacing the server's default policy;
// the widget, a script, keeps the default one (a policy on a script
// response has no effect).

// Where the browser-facing files are served.
const (
	// PathWidget is the embeddable widget, qrlogin.WidgetJS.
	PathWidget = "/sdk/ukeygate.js"
	// PathDemo is the demo portal's prefix (demo.New's Prefix).
	PathDemo = "/demo"
)

// handleHTTP registers a plain http.Handler (one that answers its own
// errors) under pattern.
func (a *API) handleHTTP(pattern string, h http.Handler) {
	a.patterns = append(a.patterns, pattern)
	a.mux.Handle(pattern, h)
}
