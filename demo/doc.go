// Package demo is the demo procurement portal the gateway serves at /demo
// (config demo: true): QR login, signing a bid and opening a sealed bid,
// each page showing the lines it uses next to the live widget. New builds
// its handler from a Config. With a webhook secret, its backend takes each
// result from the app's webhook (Prefix + "/webhook", checked with
// portal.VerifyWebhook); the browser only says "done".
//
// It is built only on package portal (Client, VerifyLogin), as an
// integrator would build a portal, and talks to the gateway only over
// HTTP. It must never import a server-side package, and never send the app
// key anywhere but the gateway: not to a browser, not into a URL, not into
// a log.
package demo
