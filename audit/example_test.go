package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// Every key use is appended; Verify recomputes the SM3 chain and the sealed
// head, and a changed entry breaks it.
func Example() {
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cfg := storage.DefaultBoltConfig()
	cfg.Path = filepath.Join(dir, "ukeygate.db")
	store, err := storage.OpenBolt(cfg)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ctx := context.Background()

	log, err := audit.New(store, bytes.Repeat([]byte{1}, 32), nil)
	if err != nil {
		panic(err)
	}
	defer log.Close()
	for _, action := range []string{"login", "sign", "decrypt"} {
		e, err := log.Append(ctx, audit.Entry{Action: action, UserID: "usr_1", Digest: "66c7f0f4", Outcome: audit.OutcomeOK})
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Seq, e.Action)
	}
	rep, err := log.Verify(ctx)
	fmt.Println("entries:", rep.Entries, "error:", err)

	// Someone with write access to the store changes who signed.
	kv, _ := store.Get(ctx, "audit/entries/0000000000000002")
	changed := bytes.Replace(kv.Value, []byte("usr_1"), []byte("usr_2"), 1)
	storagetest.PutKey(ctx, store, kv.Key, changed, 0)
	_, err = log.Verify(ctx)
	fmt.Println(errors.Is(err, audit.ErrTampered), err)
	// Output:
	// 1 login
	// 2 sign
	// 3 decrypt
	// entries: 3 error: <nil>
	// true audit: log has been tampered with: entry 2 names another user or actor than it committed to
}
