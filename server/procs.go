package server

import "github.com/ukeygate/ukeygate/config"

// Procs returns the GOMAXPROCS a serving node runs with, or 0 to leave
// Go's setting alone: def (Go's default for this machine or container)
// plus storage.bolt.extra_procs when the store is bbolt, unless env (the
// GOMAXPROCS environment variable) is set, which wins as it does for
// every Go program. The store's one writer spends most of each commit in
// blocking file system calls (pwrite, fdatasync) and Go keeps a processor
// attached to a blocked call until its monitor takes it back; one more
// processor keeps the other goroutines on every CPU meanwhile
// (docs/benchmarks.md, round 8). etcd's client only waits on sockets,
// which give their processor back at once.
func Procs(cfg config.Config, env string, def int) int {
	if env != "" || cfg.Storage.Backend != config.BackendBolt || cfg.Storage.Bolt.ExtraProcs <= 0 || def <= 0 {
		return 0
	}
	return def + cfg.Storage.Bolt.ExtraProcs
}
