package server

import (
	"errors"
	"os"
	"testing"

	"github.com/ukeygate/ukeygate/config"
)

// TestOpenStoreAfterInterruptedRestore: a bbolt data_dir holding only the
// leftover of a restore that was killed is refused (serving would start
// an empty store in its place) and nothing is created; once the leftover
// is gone (or the restore finished) the store opens.
func TestOpenStoreAfterInterruptedRestore(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	if err := os.WriteFile(cfg.BoltRestoringPath(), []byte("half a restore"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := OpenStore(cfg)
	if !errors.Is(err, ErrRestoreInterrupted) || !errors.Is(err, ErrStore) {
		if st != nil {
			st.Close()
		}
		t.Fatalf("OpenStore beside an interrupted restore: %v", err)
	}
	if _, err := os.Lstat(cfg.BoltPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused open created %s: %v", cfg.BoltPath(), err)
	}
	if _, err := New(cfg, make([]byte, MasterKeySize), nil); !errors.Is(err, ErrRestoreInterrupted) {
		t.Fatalf("New (serve) beside an interrupted restore: %v", err)
	}

	if err := os.Remove(cfg.BoltRestoringPath()); err != nil {
		t.Fatal(err)
	}
	st, err = OpenStore(cfg)
	if err != nil {
		t.Fatalf("after the leftover was deleted: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// A data file beside a leftover (a later restore's, say) is opened:
	// only a missing data file makes the leftover mean anything.
	if err := os.WriteFile(cfg.BoltRestoringPath(), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err = OpenStore(cfg)
	if err != nil {
		t.Fatalf("a data file beside a leftover: %v", err)
	}
	st.Close()
}
