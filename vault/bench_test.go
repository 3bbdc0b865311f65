package vault_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
	"github.com/ukeygate/ukeygate/vault"
)

// BenchmarkGet compares a read of a 1 KiB value from bbolt directly and
// through the sealed view (the cost of opening the seal).
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	raw := mustOpenBolt(b)
	v, err := vault.Open(ctx, raw, key(1))
	if err != nil {
		b.Fatal(err)
	}
	val := bytes.Repeat([]byte("x"), 1024)
	if _, err := storagetest.PutKey(ctx, raw, "plain", val, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := storagetest.PutKey(ctx, v.Store, "sealed", val, 0); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		st   storage.Store
		key  string
	}{{"raw", raw, "plain"}, {"sealed", v.Store, "sealed"}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.st.Get(ctx, bc.key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
