package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/backup"
	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/server"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/vault"
)

// backup asks a serving node for a snapshot (operator API); restore writes
// one into a stopped node's empty store.

func newBackupCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a consistent backup of a serving node's store (operator API)",
		Long: `backup downloads a consistent snapshot of the serving node's store (bbolt
or etcd) through the operator API and writes it to FILE (mode 0600; an
existing FILE is refused). The file carries its format version, the store's
id, the id of the master key its values are sealed under, and an SM3
checksum; it is checked before backup reports success.

The master key is never in the file: keep it apart from the backups. A
backup without its master key cannot be read, by a thief or by you.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErrorf("--out FILE is required")
			}
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			sum, err := downloadBackup(cmd.Context(), c, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup written to %s: store %s, %d keys at revision %d, sealed under master key %s, sm3 %s\n",
				out, sum.StoreID, sum.Records, sum.Revision, sum.KeyID, sum.SM3)
			return nil
		},
	}
	addServerFlag(cmd)
	cmd.Flags().String("admin-token", "", "operator API token (env "+envAdminToken+")")
	cmd.Flags().StringVar(&out, "out", "", "file to write (must not exist)")
	return cmd
}

// downloadBackup streams the backup into out+".partial", checks it, and
// renames it to out.
func downloadBackup(ctx context.Context, c *opClient, out string) (backup.Summary, error) {
	if _, err := os.Lstat(out); err == nil {
		return backup.Summary{}, fmt.Errorf("%s exists: refusing to overwrite a backup", out)
	}
	tmp := out + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return backup.Summary{}, err
	}
	bc := *c.Client
	bc.HTTP = nil // no 60 s limit: a backup may be large; ctx bounds it
	_, cerr := bc.Backup(ctx, f)
	serr := f.Sync()
	if err := errors.Join(cerr, serr, f.Close()); err != nil {
		_ = os.Remove(tmp)
		return backup.Summary{}, fmt.Errorf("writing %s: %w", tmp, err)
	}
	sum, err := verifyBackupFile(tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return backup.Summary{}, fmt.Errorf("the server's backup is incomplete: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		_ = os.Remove(tmp)
		return backup.Summary{}, err
	}
	return sum, syncDir(filepath.Dir(out))
}

func verifyBackupFile(path string) (backup.Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return backup.Summary{}, err
	}
	defer f.Close()
	return backup.Verify(f)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func newRestoreCmd() *cobra.Command {
	var in string
	cmd := &cobra.Command{
		Use:   "restore --in FILE",
		Short: "Restore a backup into a stopped node's empty store",
		Long: `restore checks FILE completely (format, SM3 checksum, record count), then
writes it into the configured store, which must be empty: with bbolt,
data_dir may hold nothing but the master key file (the node must be
stopped); with etcd, nothing may exist under storage.etcd.prefix.

The configured master key must be the one the backup was sealed under (its
id is in the file; restore names it when the key is missing or another):
restore records itself in the restored audit log, a backup.restore entry
(the backup's store, time, revision and checksum, its key count, and the
system user and host that ran restore) chained after the restored entries
and sealed like them, so that audit verify passes on the restored node.
Until that entry is written the store stays marked as half-restored (with
bbolt: the data file is not in place), and serve refuses it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" {
				return usageErrorf("--in FILE is required")
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			sum, err := verifyBackupFile(in)
			if err != nil {
				return err
			}
			master, err := restoreKey(cfg, sum.KeyID)
			if err != nil {
				return err
			}
			defer clear(master)
			res, err := restoreInto(cmd.Context(), cfg, in, master, restoreBy())
			if err != nil {
				return err
			}
			expired := ""
			if res.Expired > 0 {
				expired = fmt.Sprintf("; %d more had expired since", res.Expired)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %d keys of store %s (backup of %s, revision %d%s); recorded as audit entry %d (%s)\n",
				res.Records-res.Expired, res.StoreID, res.CreatedAt.Format("2006-01-02T15:04:05Z"), res.Revision, expired, res.auditSeq, vault.AuditActionRestore)
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "backup file to restore")
	return cmd
}

// restoreKey loads the configured master key and refuses one that does not
// open the backup, or none: the restore's audit entry is sealed under it.
func restoreKey(cfg config.Config, want string) ([]byte, error) {
	master, err := server.LoadMasterKey(cfg)
	if err != nil {
		if cfg.MasterKey == "" {
			if _, serr := os.Stat(cfg.MasterKeyPath()); errors.Is(serr, fs.ErrNotExist) {
				return nil, fmt.Errorf("no master key at %s: install master key %s (the backup's) there, or set UKEYGATE_MASTER_KEY, then restore: the restore is recorded in the restored audit log, sealed under that key", cfg.MasterKeyPath(), want)
			}
		}
		return nil, err
	}
	id, err := vault.KeyID(master)
	if err != nil {
		clear(master)
		return nil, err
	}
	if id != want {
		clear(master)
		return nil, fmt.Errorf("the backup is sealed under master key %s, but the configured master key is %s: configure the key of the backup", want, id)
	}
	return master, nil
}

// restoreBy says who runs the restore, as far as this process can tell:
// the system user and the host ("alice@node1"), and the user sudo was run
// by (" sudo_user=bob").
func restoreBy() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "uid" + strconv.Itoa(os.Getuid())
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	by := strings.ReplaceAll(name+"@"+host, " ", "_")
	if su := os.Getenv("SUDO_USER"); su != "" && su != name {
		by += " sudo_user=" + strings.ReplaceAll(su, " ", "_")
	}
	return by
}

// restored is what a restore did.
type restored struct {
	backup.Summary
	auditSeq int64 // the backup.restore entry
}

// restoreInto writes the backup into the configured store and records the
// restore in its audit log (sealed under master) before the store is
// complete: with bbolt it builds the data file under a temporary name and
// renames it at the end, so that an interrupted or failed restore leaves
// no data file; with etcd the restore's marker stays until the entry is
// written, and serve refuses a marked prefix.
func restoreInto(ctx context.Context, cfg config.Config, in string, master []byte, by string) (restored, error) {
	f, err := os.Open(in)
	if err != nil {
		return restored{}, err
	}
	defer f.Close()
	var res restored
	opts := backup.RestoreOptions{Finish: func(ctx context.Context, dst storage.Store, sum backup.Summary) error {
		seq, err := vault.RecordRestore(ctx, dst, master, backup.RestoreDetail(sum, by))
		res.auditSeq = seq
		return err
	}}
	if cfg.Storage.Backend != config.BackendBolt {
		st, err := server.OpenStore(cfg)
		if err != nil {
			return restored{}, err
		}
		sum, err := backup.RestoreWith(ctx, f, st, opts)
		if err = errors.Join(err, st.Close()); err != nil {
			return restored{}, err
		}
		res.Summary = sum
		return res, nil
	}
	tmp := cfg.BoltRestoringPath()
	if err := checkEmptyDataDir(cfg, filepath.Base(tmp)); err != nil {
		return restored{}, err
	}
	_ = os.Remove(tmp) // left by an interrupted restore
	bc := storage.DefaultBoltConfig()
	bc.Path = tmp
	bc.Timeout = cfg.Storage.Bolt.Timeout
	st, err := storage.OpenBolt(bc)
	if err != nil {
		return restored{}, err
	}
	sum, err := backup.RestoreWith(ctx, f, st, opts)
	if err = errors.Join(err, st.Close()); err != nil {
		_ = os.Remove(tmp)
		return restored{}, err
	}
	// Never replace a data file that appeared during the restore (a node
	// started meanwhile: it must be stopped); the restored one appears
	// whole, with its entry, or not at all.
	if _, err := os.Lstat(cfg.BoltPath()); err == nil {
		_ = os.Remove(tmp)
		return restored{}, fmt.Errorf("%w: data_dir %s got %s during the restore", backup.ErrNotEmpty, cfg.DataDir, filepath.Base(cfg.BoltPath()))
	}
	if err := os.Rename(tmp, cfg.BoltPath()); err != nil {
		_ = os.Remove(tmp)
		return restored{}, err
	}
	res.Summary = sum
	return res, syncDir(cfg.DataDir)
}

// checkEmptyDataDir refuses a data_dir that holds anything but the master
// key file (and the leftover of an interrupted restore, named leftover).
func checkEmptyDataDir(cfg config.Config, leftover string) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(cfg.DataDir)
	if err != nil {
		return err
	}
	keyPath, _ := filepath.Abs(cfg.MasterKeyPath())
	for _, e := range entries {
		p, _ := filepath.Abs(filepath.Join(cfg.DataDir, e.Name()))
		if p == keyPath || e.Name() == leftover {
			continue
		}
		return fmt.Errorf("%w: data_dir %s holds %s: restore only into an empty data_dir of a stopped node", backup.ErrNotEmpty, cfg.DataDir, e.Name())
	}
	return nil
}
