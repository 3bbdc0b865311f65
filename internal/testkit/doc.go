// Package testkit holds test support shared by the tests of many packages:
// the openssl CLI with the project's CI policy, free loopback addresses, a
// real etcd child process, a goroutine-safe buffer and a small seal image.
//
// It is test support only. It must never be imported by product code; the
// one exception is server/servertest, which is itself test support. It
// imports nothing but the standard library (never crypto or any other
// ukeygate package), so that every package's tests, internal ones
// included, can use it without an import cycle.
//
// CI policy: a missing external tool (openssl, etcd) skips the test, except
// when the environment has CI=true, where it fails the test.
package testkit
