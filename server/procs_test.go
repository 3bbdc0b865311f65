package server_test

import (
	"fmt"
	"testing"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/server"
)

func ExampleProcs() {
	cfg := config.Default() // bbolt, storage.bolt.extra_procs 1
	fmt.Println(server.Procs(cfg, "", 2))
	fmt.Println(server.Procs(cfg, "4", 2)) // GOMAXPROCS=4 is set: Go's own rule
	// Output:
	// 3
	// 0
}

func TestProcs(t *testing.T) {
	etcd := config.Default()
	etcd.Storage.Backend = config.BackendEtcd
	none := config.Default()
	none.Storage.Bolt.ExtraProcs = 0
	two := config.Default()
	two.Storage.Bolt.ExtraProcs = 2
	for _, tc := range []struct {
		name string
		cfg  config.Config
		env  string
		def  int
		want int
	}{
		{"bbolt adds one", config.Default(), "", 1, 2},
		{"bbolt adds two", two, "", 8, 10},
		{"extra_procs 0", none, "", 2, 0},
		{"etcd", etcd, "", 2, 0},
		{"GOMAXPROCS set", config.Default(), "1", 2, 0},
		{"no default", config.Default(), "", 0, 0},
	} {
		if got := server.Procs(tc.cfg, tc.env, tc.def); got != tc.want {
			t.Errorf("%s: Procs = %d, want %d", tc.name, got, tc.want)
		}
	}
}
