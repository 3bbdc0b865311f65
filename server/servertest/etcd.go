package servertest

import (
	"encoding/hex"
	"testing"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/testkit"
)

// StartEtcd runs a real single-member etcd (Debian's etcd-server) on free
// loopback ports until the test ends, and returns its client endpoint
// ("http://127.0.0.1:PORT"). Without an etcd binary the test is skipped,
// except under CI=true, where that fails it.
func StartEtcd(t testing.TB) string {
	t.Helper()
	return testkit.StartEtcd(t)
}

// WithEtcd returns a mutate function for Start that puts the server on the
// etcd cluster at endpoint under prefix (each test should use its own
// prefix, e.g. "/"+t.Name()+"/", unless its servers share data).
func WithEtcd(endpoint, prefix string) func(*config.Config) {
	return func(c *config.Config) {
		c.Storage.Backend = config.BackendEtcd
		c.Storage.Etcd.Endpoints = []string{endpoint}
		c.Storage.Etcd.Prefix = prefix
	}
}

// Peer returns a mutate function for Start that makes another node of the
// same cluster as ts: same storage settings, master key and admin token
// (its own data_dir and port). Use it with an etcd-backed ts; two nodes
// cannot share a bbolt file.
func (ts *TS) Peer() func(*config.Config) {
	storageCfg := ts.Config.Storage
	storageCfg.Etcd.Endpoints = append([]string(nil), storageCfg.Etcd.Endpoints...)
	key := hex.EncodeToString(ts.master)
	token := ts.AdminToken
	return func(c *config.Config) {
		c.Storage = storageCfg
		c.MasterKey = key
		c.AdminToken = token
	}
}
