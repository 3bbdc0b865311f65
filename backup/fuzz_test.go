package backup_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ukeygate/ukeygate/backup"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/vault"
)

// FuzzVerify: whatever a file holds, Verify answers without panicking and
// every refusal is ErrFormat. A file it accepts has one record per line
// between the header and the end line, and restores into an empty store
// with the same summary, leaving no restore marker and no more keys than
// records. Seeds: a real backup of a vault-opened store, and the files in
// testdata/fuzz/FuzzVerify (records with and without expiry, an expired
// one, an unknown field, a key with a NUL byte, CRLF line ends).
func FuzzVerify(f *testing.F) {
	src, _ := source(f)
	var buf bytes.Buffer
	if _, err := backup.Write(context.Background(), &buf, src, "bbolt"); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		sum, err := backup.Verify(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, backup.ErrFormat) {
				t.Fatalf("Verify: %v, want ErrFormat", err)
			}
			return
		}
		if lines := bytes.Count(b, []byte("\n")); sum.Records != lines-2 {
			t.Fatalf("Verify counted %d records in %d lines", sum.Records, lines)
		}
		ctx := context.Background()
		dst := mustOpenBolt(t)
		got, err := backup.Restore(ctx, bytes.NewReader(b), dst)
		if err != nil {
			t.Fatalf("Restore of a file Verify accepted: %v", err)
		}
		if got.Records != sum.Records || got.SM3 != sum.SM3 || got.StoreID != sum.StoreID {
			t.Fatalf("Restore summary %+v, Verify's %+v", got, sum)
		}
		kvs, _, err := dst.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, kv := range kvs {
			if kv.Key == vault.RestoringKey {
				t.Fatal("the restore marker stayed")
			}
			if storage.ValidateKey(kv.Key) == nil {
				n++
			}
		}
		if n > sum.Records {
			t.Fatalf("%d keys restored from %d records", n, sum.Records)
		}
	})
}
