package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/storage"
)

// newCompactCmd is `ukeygate compact`: give a stopped node's bbolt file
// the space of deleted records back.
func newCompactCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compact",
		Short: "Shrink a stopped node's bbolt file: copy the live records to a new file and swap it in",
		Long: `bbolt never gives freed pages back to the file system: after expired
sessions, nonces and exported audit entries left the store, the data file
keeps its largest size. compact copies every record (with its revision and
expiry) into <data_dir>/ukeygate.db.compact, syncs it, and renames it over
the data file (mode 0600), so an interruption leaves the old file whole.

The node must be stopped (the file is locked while it runs: compact waits
storage.bolt.timeout, then refuses). With etcd, compact the keyspace and
defragment each member instead (docs/operations.md, "Store growth").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cfg.Storage.Backend != config.BackendBolt {
				return usageErrorf("compact works on a bbolt data file; with etcd run etcdctl compact and etcdctl defrag (docs/operations.md)")
			}
			before, after, err := compactBolt(cmd, cfg)
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]any{"file": cfg.BoltPath(), "bytes_before": before, "bytes_after": after})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Compacted %s: %d bytes → %d bytes.\n", cfg.BoltPath(), before, after)
			return nil
		},
	}
	cmd.Flags().Bool("json", false, "print the sizes as JSON")
	return cmd
}

// compactBolt compacts the configured bbolt file and returns its size
// before and after.
func compactBolt(cmd *cobra.Command, cfg config.Config) (int64, int64, error) {
	path := cfg.BoltPath()
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, fmt.Errorf("no data file to compact: %w", err)
	}
	bc := storage.DefaultBoltConfig()
	bc.Path, bc.Timeout = path, cfg.Storage.Bolt.Timeout
	st, err := storage.OpenBolt(bc)
	if err != nil {
		return 0, 0, fmt.Errorf("opening %s (stop the node first: a running node holds it): %w", path, err)
	}
	err = st.Compact(cmd.Context())
	if err = errors.Join(err, st.Close()); err != nil {
		return 0, 0, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return 0, 0, err
	}
	fa, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return fi.Size(), fa.Size(), nil
}
