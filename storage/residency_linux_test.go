package storage_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// mappedKiB is this process's resident memory (the Rss: lines of
// /proc/self/smaps) in the mappings of the file at path.
func mappedKiB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, kib := false, 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			// A mapping's header line: address perms offset dev inode [path].
			in = len(fields) >= 6 && fields[5] == path
		case in && len(fields) >= 2 && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			kib += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kib
}

// TestBoltReleaseMappedPages: after the values were read through bbolt's
// mapping, ReleaseMappedPages takes the file's pages out of this process's
// resident memory, and every value reads back the same.
func TestBoltReleaseMappedPages(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir()) // smaps names the real path
	if err != nil {
		t.Fatal(err)
	}
	cfg := storagetest.TestBoltConfig(dir)
	s, err := storage.OpenBolt(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	const keys, size = 2048, 2000 // about 4 MiB of values
	value := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, size) }
	for i := 0; i < keys; i += storage.MaxTxnOps {
		var ops []storage.Op
		for j := i; j < min(i+storage.MaxTxnOps, keys); j++ {
			ops = append(ops, storage.Put(fmt.Sprintf("k/%05d", j), value(j), 0))
		}
		if _, err := s.Txn(ctx, ops...); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func() {
		t.Helper()
		kvs, _, err := s.List(ctx, "k/")
		if err != nil {
			t.Fatal(err)
		}
		if len(kvs) != keys {
			t.Fatalf("List: %d keys, want %d", len(kvs), keys)
		}
		for i, kv := range kvs {
			if !bytes.Equal(kv.Value, value(i)) {
				t.Fatalf("key %s reads back different", kv.Key)
			}
		}
	}
	readAll()
	before := mappedKiB(t, cfg.Path)
	if before < 2048 {
		t.Fatalf("only %d KiB of the data file resident after reading 4 MiB through the mapping", before)
	}
	n, err := s.ReleaseMappedPages()
	if err != nil {
		t.Fatal(err)
	}
	after := mappedKiB(t, cfg.Path)
	st, err := os.Stat(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	// The sweeper may fault a few pages back in meanwhile (with
	// fault-around, 64 KiB each).
	if after > 512 || n < 4<<20 || n > st.Size() {
		t.Fatalf("resident %d KiB → %d KiB, advised %d bytes of a %d-byte file; want ≤ 512 KiB after, 4 MiB ≤ advised ≤ file", before, after, n, st.Size())
	}
	t.Logf("data file resident: %d KiB, after ReleaseMappedPages %d KiB (advised %d bytes)", before, after, n)
	readAll()
	if again := mappedKiB(t, cfg.Path); again < 2048 {
		t.Errorf("reading everything again made only %d KiB resident", again)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReleaseMappedPages(); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}
