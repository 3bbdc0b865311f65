package vault_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/audit"
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

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealedAtRestAndWrongKeyRefused(t *testing.T) {
	ctx := context.Background()
	raw := mustOpenBolt(t)
	v, err := vault.Open(ctx, raw, key(1))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(v.DataKey, key(1)) || len(v.DataKey) != vault.DataKeySize {
		t.Fatalf("a new store must get a random data key")
	}
	if _, err := storagetest.PutKey(ctx, v.Store, "users/u1", []byte(`{"name":"Zhang San"}`), 0); err != nil {
		t.Fatal(err)
	}
	kv, err := raw.Get(ctx, "users/u1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(kv.Value, []byte("Zhang")) {
		t.Fatalf("value stored in clear: %q", kv.Value)
	}
	got, err := v.Store.Get(ctx, "users/u1")
	if err != nil || string(got.Value) != `{"name":"Zhang San"}` {
		t.Fatalf("Get through the view = %q, %v", got.Value, err)
	}
	if _, err := storagetest.PutKey(ctx, v.Store, "empty", nil, 0); err != nil {
		t.Fatal(err)
	}
	if kv, err := v.Store.Get(ctx, "empty"); err != nil || kv.Value == nil || len(kv.Value) != 0 {
		t.Fatalf("empty value: %q, %v", kv.Value, err)
	}
	if _, err := vault.Open(ctx, raw, key(2)); !errors.Is(err, vault.ErrWrongKey) {
		t.Fatalf("Open with another key: %v, want ErrWrongKey", err)
	}
	if _, err := storagetest.PutKey(ctx, v.Store, vault.KeyringKey, []byte("x"), 0); !errors.Is(err, vault.ErrReserved) {
		t.Fatalf("write to the keyring through the view: %v, want ErrReserved", err)
	}
	// A value moved to another key does not open there.
	if _, err := storagetest.PutKey(ctx, raw, "users/u2", kv.Value, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Store.Get(ctx, "users/u2"); !errors.Is(err, vault.ErrSealed) {
		t.Fatalf("moved value: %v, want ErrSealed", err)
	}
	again, err := vault.Open(ctx, raw, key(1))
	if err != nil || !bytes.Equal(again.DataKey, v.DataKey) || again.Info.StoreID != v.Info.StoreID {
		t.Fatalf("reopen: %v (data key or store id changed)", err)
	}
}

func TestLegacyStoreIsSealedAndKeepsMasterAsDataKey(t *testing.T) {
	ctx := context.Background()
	raw := mustOpenBolt(t)
	for _, k := range []string{"a/1", "a/2", "b/1"} {
		if _, err := storagetest.PutKey(ctx, raw, k, []byte("plain "+k), 0); err != nil {
			t.Fatal(err)
		}
	}
	v, err := vault.Open(ctx, raw, key(7))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.DataKey, key(7)) {
		t.Fatal("a store from before the vault must keep the master key as data key")
	}
	kvs, _, err := raw.List(ctx, "a/")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if bytes.Contains(kv.Value, []byte("plain")) {
			t.Fatalf("%s still in clear", kv.Key)
		}
	}
	got, err := v.Store.Get(ctx, "b/1")
	if err != nil || string(got.Value) != "plain b/1" {
		t.Fatalf("b/1 = %q, %v", got.Value, err)
	}
}

func TestRotateResumesAndRefusesOldKey(t *testing.T) {
	ctx := context.Background()
	raw := mustOpenBolt(t)
	v, err := vault.Open(ctx, raw, key(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		ttl := time.Duration(0)
		if i%10 == 0 {
			ttl = time.Hour
		}
		if _, err := storagetest.PutKey(ctx, v.Store, "k/"+string(rune('a'+i%26))+"/"+time.Duration(i).String(), []byte(strconv.Itoa(i)), ttl); err != nil {
			t.Fatal(err)
		}
	}
	log, err := audit.New(v.Store, v.DataKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Append(ctx, audit.Entry{Action: "issuer.add", Outcome: audit.OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	log.Close()

	// Interrupt the first run after a few batches.
	cctx, cancel := context.WithCancel(ctx)
	_, err = vault.Rotate(cctx, raw, key(1), key(2), vault.RotateOptions{Batch: 10, Progress: func(n int) {
		if n >= 50 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the interrupted rotation reported success")
	}
	for _, k := range [][]byte{key(1), key(2)} {
		if _, err := vault.Open(ctx, raw, k); !errors.Is(err, vault.ErrRotating) {
			t.Fatalf("Open during the rotation: %v, want ErrRotating", err)
		}
	}
	if _, err := vault.Rotate(ctx, raw, key(1), key(3), vault.RotateOptions{}); !errors.Is(err, vault.ErrWrongKey) {
		t.Fatalf("resume with another new key: %v, want ErrWrongKey", err)
	}
	res, err := vault.Rotate(ctx, raw, key(1), key(2), vault.RotateOptions{})
	if err != nil || res.Resealed == 0 || res.Resealed >= 301 {
		t.Fatalf("resume: %+v, %v", res, err)
	}
	if _, err := vault.Open(ctx, raw, key(1)); !errors.Is(err, vault.ErrWrongKey) {
		t.Fatalf("old key after rotation: %v, want ErrWrongKey", err)
	}
	nv, err := vault.Open(ctx, raw, key(2))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nv.DataKey, v.DataKey) {
		t.Fatal("the data key changed")
	}
	kvs, _, err := nv.Store.List(ctx, "k/")
	if err != nil || len(kvs) != 300 {
		t.Fatalf("after rotation: %d values, %v", len(kvs), err)
	}
	for _, kv := range kvs {
		i, _ := strconv.Atoi(string(kv.Value))
		if i%10 == 0 && kv.ExpiresAt.IsZero() {
			t.Fatalf("%s lost its TTL", kv.Key)
		}
	}
	log, err = audit.New(nv.Store, nv.DataKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	rep, err := log.Verify(ctx)
	if err != nil {
		t.Fatalf("audit verify after rotation: %v", err)
	}
	entries, err := log.List(ctx, audit.Filter{Action: vault.AuditActionRotate})
	if err != nil || len(entries) == 0 {
		t.Fatalf("no %s entry (%v); report %+v", vault.AuditActionRotate, err, rep)
	}
	if res, err := vault.Rotate(ctx, raw, key(1), key(2), vault.RotateOptions{}); err != nil || !res.AlreadyDone {
		t.Fatalf("rotate again: %+v, %v", res, err)
	}
}

// An Update through the sealed view reads opened values and seals what it
// writes, as Get and Txn do; reserved keys stay unwritable.
func TestSealedUpdate(t *testing.T) {
	ctx := context.Background()
	raw := mustOpenBolt(t)
	v, err := vault.Open(ctx, raw, key(1))
	if err != nil {
		t.Fatal(err)
	}
	u, ok := v.Store.(storage.Updater)
	if !ok || !storage.CanUpdate(v.Store) {
		t.Fatal("the sealed view over bbolt runs no Update")
	}
	if _, err := storagetest.PutKey(ctx, v.Store, "users/u1", []byte("Zhang San"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = u.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
		kv, err := get("users/u1")
		if err != nil {
			return nil, err
		}
		return []storage.Op{storage.Put("users/u2", append(kv.Value, " II"...), 0)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if kv, err := raw.Get(ctx, "users/u2"); err != nil || bytes.Contains(kv.Value, []byte("Zhang")) {
		t.Fatalf("update stored %q, %v: want it sealed", kv.Value, err)
	}
	if kv, err := v.Store.Get(ctx, "users/u2"); err != nil || string(kv.Value) != "Zhang San II" {
		t.Fatalf("read back %q, %v", kv.Value, err)
	}
	_, err = u.Update(ctx, func(storage.ReadFunc) ([]storage.Op, error) {
		return []storage.Op{storage.Put(vault.ReservedPrefix+"x", nil, 0)}, nil
	})
	if !errors.Is(err, vault.ErrReserved) {
		t.Fatalf("update of a reserved key: %v, want ErrReserved", err)
	}
}
