// Package storagetest holds the conformance suite every storage.Store
// implementation must pass (Run, RunReopen), and helpers that open a real
// bbolt store on t.TempDir() for the tests of other packages (MustOpen,
// MustOpenBolt).
//
// The suite waits for TTL expiry and for events by polling against generous
// deadlines; it never asserts how fast anything happens, so that it does not
// flake on a loaded machine.
package storagetest
