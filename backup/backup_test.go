package backup_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/backup"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
	"github.com/ukeygate/ukeygate/vault"
)

func mustOpenBolt(t testing.TB) *storage.Bolt {
	t.Helper()
	cfg := storage.DefaultBoltConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ukeygate.db")
	st, err := storage.OpenBolt(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// source is a vault-opened store with plain, TTL and already-expired keys.
func source(t testing.TB) (*storage.Bolt, []byte) {
	t.Helper()
	ctx := context.Background()
	raw := mustOpenBolt(t)
	master := bytes.Repeat([]byte{9}, 32)
	v, err := vault.Open(ctx, raw, master)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"users/a", "users/b", "issuers/sm2", "sessions/s1"} {
		ttl := time.Duration(0)
		if strings.HasPrefix(k, "sessions/") {
			ttl = time.Hour
		}
		if _, err := storagetest.PutKey(ctx, v.Store, k, []byte{byte(i), '\n', '{'}, ttl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := storagetest.PutKey(ctx, v.Store, "sessions/short", []byte("x"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	return raw, master
}

func TestWriteVerifyRestore(t *testing.T) {
	ctx := context.Background()
	src, master := source(t)
	var buf bytes.Buffer
	sum, err := backup.Write(ctx, &buf, src, "bbolt")
	if err != nil {
		t.Fatal(err)
	}
	// 4 lasting keys + the keyring, and sessions/short unless a slow
	// machine let its 2 s pass already.
	if sum.Records < 5 || sum.Records > 6 || sum.StoreID == "" || sum.KeyID == "" {
		t.Fatalf("summary %+v", sum)
	}
	if id, _ := vault.KeyID(master); id != sum.KeyID {
		t.Fatalf("key id %s, want %s", sum.KeyID, id)
	}
	got, err := backup.Verify(bytes.NewReader(buf.Bytes()))
	if err != nil || got.SM3 != sum.SM3 || got.Records != sum.Records {
		t.Fatalf("Verify: %+v, %v", got, err)
	}
	// Restore skips what has expired since the backup: wait for
	// sessions/short to expire (a failure guard bounds the wait).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := src.Get(ctx, "sessions/short"); errors.Is(err, storage.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sessions/short never expired")
		}
	}
	dst := mustOpenBolt(t)
	if _, err := backup.Restore(ctx, bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, dst, master)
	if err != nil {
		t.Fatal(err)
	}
	if v.Info.StoreID != sum.StoreID {
		t.Fatalf("restored store id %s, want %s", v.Info.StoreID, sum.StoreID)
	}
	kvs, _, err := v.Store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
		if kv.Key == "sessions/s1" && kv.ExpiresAt.IsZero() {
			t.Error("sessions/s1 lost its TTL")
		}
	}
	if strings.Join(keys, ",") != "issuers/sm2,sessions/s1,users/a,users/b,vault/keyring" {
		t.Fatalf("restored keys %v", keys)
	}
	if _, err := backup.Restore(ctx, bytes.NewReader(buf.Bytes()), dst); !errors.Is(err, backup.ErrNotEmpty) {
		t.Fatalf("restore into a non-empty store: %v", err)
	}
}

func TestDamagedBackupsRefused(t *testing.T) {
	ctx := context.Background()
	src, _ := source(t)
	var buf bytes.Buffer
	if _, err := backup.Write(ctx, &buf, src, "bbolt"); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	lines := bytes.SplitAfter(good, []byte("\n"))
	cases := map[string][]byte{
		"empty":            nil,
		"truncated":        good[:len(good)-10],
		"no end line":      bytes.Join(lines[:len(lines)-2], nil),
		"one bit flipped":  flip(good, len(good)/2),
		"line removed":     append(append([]byte{}, bytes.Join(lines[:2], nil)...), bytes.Join(lines[3:], nil)...),
		"trailing garbage": append(append([]byte{}, good...), "x"...),
		"not a backup":     []byte("{\"format\":\"other\"}\n"),
		// Intact checksums over records Write never makes: Restore would
		// stop half-way on a key written twice in one transaction.
		"a key twice":       resealed(lines[0], lines[1], lines[2], lines[2], lines[3]),
		"keys out of order": resealed(lines[0], lines[2], lines[1], lines[3]),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := backup.Verify(bytes.NewReader(b)); !errors.Is(err, backup.ErrFormat) {
				t.Fatalf("Verify: %v, want ErrFormat", err)
			}
		})
	}
}

// resealed is a backup file of the header and record lines given (each
// with its newline) and an end line whose count and SM3 match them.
func resealed(lines ...[]byte) []byte {
	body := bytes.Join(lines, nil)
	sum := sm3.Sum(body)
	return fmt.Appendf(body, "{\"end\":true,\"records\":%d,\"sm3\":\"%s\"}\n", len(lines)-1, hex.EncodeToString(sum[:]))
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 1
	return c
}

// auditedSource is a vault-opened store whose audit log holds n entries.
func auditedSource(t *testing.T, n int) (*storage.Bolt, []byte) {
	t.Helper()
	ctx := context.Background()
	raw, master := source(t)
	v, err := vault.Open(ctx, raw, master)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(v.Store, v.DataKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i := range n {
		if _, err := log.Append(ctx, audit.Entry{Action: "user.add", Actor: "admin", Outcome: audit.OutcomeOK, Detail: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return raw, master
}

// restoredLog opens dst (a finished restore) and returns its verified
// audit entries.
func restoredLog(t *testing.T, dst storage.Store, master []byte) []audit.Entry {
	t.Helper()
	ctx := context.Background()
	v, err := vault.Open(ctx, dst, master)
	if err != nil {
		t.Fatalf("opening the restored store: %v", err)
	}
	log, err := audit.New(v.Store, v.DataKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	rep, err := log.Verify(ctx)
	if err != nil {
		t.Fatalf("the restored audit log does not verify: %v", err)
	}
	entries, err := log.List(ctx, audit.Filter{})
	if err != nil || int64(len(entries)) != rep.Entries {
		t.Fatalf("%d entries listed, %d verified: %v", len(entries), rep.Entries, err)
	}
	return entries
}

// TestRestoreRecorded: a restore with vault.RecordRestore as its Finish
// appends one backup.restore entry (actor operator, the backup's store,
// time, revision, checksum, key count, who ran it) after the restored
// entries, chained and under a sealed head that verify; a Finish that
// fails, before or after writing its entry (a wrong key; a crash between
// the entry and the end), leaves the store marked, refused by vault.Open
// and by a second restore; restoring into a restored store is refused
// and changes nothing.
func TestRestoreRecorded(t *testing.T) {
	ctx := context.Background()
	src, master := auditedSource(t, 3)
	var buf bytes.Buffer
	sum, err := backup.Write(ctx, &buf, src, "bbolt")
	if err != nil {
		t.Fatal(err)
	}
	record := func(ctx context.Context, dst storage.Store, s backup.Summary) error {
		_, err := vault.RecordRestore(ctx, dst, master, backup.RestoreDetail(s, "alice@drill-host"))
		return err
	}
	errCrash := errors.New("stopped after the entry")
	other := bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		name   string
		finish func(context.Context, storage.Store, backup.Summary) error
		want   error // nil: restored
	}{
		{"recorded", record, nil},
		{"the wrong master key", func(ctx context.Context, dst storage.Store, _ backup.Summary) error {
			_, err := vault.RecordRestore(ctx, dst, other, "x")
			return err
		}, vault.ErrWrongKey},
		{"stopped after the entry", func(ctx context.Context, dst storage.Store, s backup.Summary) error {
			if err := record(ctx, dst, s); err != nil {
				return err
			}
			return errCrash
		}, errCrash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := mustOpenBolt(t)
			got, err := backup.RestoreWith(ctx, bytes.NewReader(buf.Bytes()), dst, backup.RestoreOptions{Finish: tc.finish})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("RestoreWith = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				// Half a restore is never served, nor restored over.
				if _, err := vault.Open(ctx, dst, master); !errors.Is(err, vault.ErrRestoring) {
					t.Fatalf("vault.Open of the failed restore: %v, want ErrRestoring", err)
				}
				if _, err := backup.Restore(ctx, bytes.NewReader(buf.Bytes()), dst); !errors.Is(err, backup.ErrNotEmpty) {
					t.Fatalf("a restore over the failed one: %v, want ErrNotEmpty", err)
				}
				return
			}
			if got.Records != sum.Records || got.StoreID != sum.StoreID {
				t.Fatalf("summary %+v, want that of %+v", got, sum)
			}
			entries := restoredLog(t, dst, master)
			if len(entries) != 4 {
				t.Fatalf("%d entries, want the 3 restored and the restore's", len(entries))
			}
			e := entries[3]
			wantDetail := fmt.Sprintf("store=%s backup_created=%s revision=%d keys=%d expired=%d sm3=%s by=alice@drill-host",
				sum.StoreID, sum.CreatedAt.Format(time.RFC3339), sum.Revision, sum.Records, got.Expired, sum.SM3)
			if e.Seq != 4 || e.Action != "backup.restore" || e.Actor != "operator" || e.Outcome != "ok" || e.Detail != wantDetail ||
				e.Prev != entries[2].Hash {
				t.Fatalf("restore entry %+v\nwant detail %s, chained after %s", e, wantDetail, entries[2].Hash)
			}
			// A second restore into it is refused and changes nothing.
			before := dumpAll(t, dst)
			if _, err := backup.RestoreWith(ctx, bytes.NewReader(buf.Bytes()), dst, backup.RestoreOptions{Finish: record}); !errors.Is(err, backup.ErrNotEmpty) {
				t.Fatalf("restore into a restored store: %v", err)
			}
			if after := dumpAll(t, dst); after != before {
				t.Fatal("a refused restore changed the store")
			}
			if n := len(restoredLog(t, dst, master)); n != 4 {
				t.Fatalf("%d entries after a refused second restore", n)
			}
		})
	}
	// An entry is written only into a store being restored.
	dst := mustOpenBolt(t)
	if _, err := vault.RecordRestore(ctx, dst, master, "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("RecordRestore into a store not being restored: %v", err)
	}
}

// dumpAll is every key, revision and value of st.
func dumpAll(t *testing.T, st storage.Store) string {
	t.Helper()
	kvs, _, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, kv := range kvs {
		fmt.Fprintf(&sb, "%s@%d=%x;", kv.Key, kv.Revision, kv.Value)
	}
	return sb.String()
}
