// Package privacy holds the user's rights over what the gateway keeps
// about them: the export of every personal record (Export) and the
// deletion of the account (Delete), which revokes the user's certificates,
// destroys their keys, erases their personal fields, devices and
// sessions, pseudonymises their audit entries and compacts the store so
// that no old copy is left in it. Its Config is the retention the law
// asks of a CA (docs/privacy.md).
//
// It orchestrates the packages that hold the records (ca, audit, session
// and the Parts other packages plug in); it must never keep a copy of
// what it exports, log a personal field, or erase anything without the
// user's PIN (or, for the operator's export, the admin token checked by
// the caller).
package privacy
