// Package seed sets up the test world on a running gateway: issuers, portal
// apps and users, each user enrolled with an in-memory phone and holding
// the credentials asked for. It is the one such setup of the whole test
// suite (api, e2e, browser, portal, phone tests); it works only through
// the gateway's HTTP APIs (operator.Client, phone.Client), as an operator
// and a phone would.
//
// It is test support only: it must never be imported by product code, and
// it fails the test (t.Fatal) instead of returning errors.
package seed
