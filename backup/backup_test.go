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
