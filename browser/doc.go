// Package browser holds the end-to-end tests that run the gateway's pages
// in a real browser: Debian's Chromium, driven by
// github.com/chromedp/chromedp, against a whole gateway
// (server/servertest, demo portal on, behind a reverse proxy), with the
// reference phone client (package phone) scanning the QR code taken from
// the rendered page. They cover the QR login, signing and opening a bid,
// expiry and refresh, rejection, the long-poll fallback when a proxy
// blocks websockets, accessibility hooks and the pages' CSP.
//
// Chromium is looked for at /usr/lib/chromium/chromium and
// /usr/bin/chromium (or $UKEYGATE_CHROMIUM); without it the tests skip,
// and fail when CI=true. Screenshots of each final state go to the test's
// artifact directory (go test -artifacts -outputdir DIR keeps them);
// -update-screenshot rewrites docs/img/demo-login.png.
//
// The package has no code besides its tests and must never be imported.
package browser
