// Package portal is the relying-party side of ukeygate: what a portal
// (an e-procurement site, an e-government service) runs on its backend to
// use the gateway. (The demo portal served at /demo is package demo, built
// on this one.)
//
//   - Client creates scan sessions (login, sign, decrypt, seal) with the
//     portal's app key, reads and cancels them, watches their events (websocket with
//     reconnect-with-after, long-poll fallback), verifies signatures and
//     encrypts to a user through the gateway's v1 HTTP protocol.
//   - VerifyLogin checks a login result without the gateway: the challenge
//     fields (session, app, origin, time), the certificate and the SM2 or
//     RSA signature over the exact challenge bytes. It does not prove that
//     the gateway ran a login session (a sign session over the challenge's
//     digest yields the same signature): take results from the gateway
//     with the app key, never from the browser.
//   - VerifyPDF checks every signature of a sealed PDF without the gateway
//     (byte ranges, CMS, seal, chain to given roots); Client.VerifyPDF asks
//     the gateway, which also checks revocation.
//
// It speaks to the gateway only over its public HTTP protocol (it imports no
// server-side package), so a Go integrator can copy it. It must never send
// the app key anywhere but the gateway's Authorization header: not to a
// browser, not into a URL, not into a log.
package portal
