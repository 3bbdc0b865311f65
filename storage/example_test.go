package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ukeygate/ukeygate/storage"
)

// A single-use value (here an activation code) is consumed in one
// transaction: the first Txn wins, a replay conflicts.
func ExampleOpenBolt() {
	dir, err := os.MkdirTemp("", "storage-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cfg := storage.DefaultBoltConfig()
	cfg.Path = filepath.Join(dir, "ukeygate.db")
	s, err := storage.OpenBolt(cfg)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	rev, _ := storage.Create(ctx, s, "codes/K7Q2", []byte(`{"user":"u1"}`), 0)
	consume := func() error {
		_, err := s.Txn(ctx,
			storage.IfRevision("codes/K7Q2", rev),
			storage.Delete("codes/K7Q2"),
			storage.Put("users/u1/enrolled", []byte("true"), 0))
		return err
	}
	fmt.Println("first use:", consume())
	fmt.Println("replay is a conflict:", errors.Is(consume(), storage.ErrConflict))

	kvs, _, _ := s.List(ctx, "users/")
	for _, kv := range kvs {
		fmt.Printf("%s = %s\n", kv.Key, kv.Value)
	}
	// Output:
	// first use: <nil>
	// replay is a conflict: true
	// users/u1/enrolled = true
}
