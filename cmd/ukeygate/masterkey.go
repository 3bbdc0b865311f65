package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/server"
	"github.com/ukeygate/ukeygate/vault"
)

func newMasterKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "master-key",
		Short: "Create a new master key file, show key ids, rotate the store to a new key",
		Long: `The master key seals every value of the store and wraps the data key the
CA keys, user keys, session results and audit seal derive from.

  ukeygate master-key generate --out FILE        a new random key file (0600)
  ukeygate master-key id [--key-file FILE]       the id a key shows in backups and errors
  ukeygate master-key rotate --new-key-file FILE re-seal the store under FILE's key`,
	}
	cmd.AddCommand(newMasterKeyGenerateCmd(), newMasterKeyIDCmd(), newMasterKeyRotateCmd())
	return cmd
}

func newMasterKeyGenerateCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "generate --out FILE",
		Short: "Write a new random master key file (never overwrites)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErrorf("--out FILE is required")
			}
			if err := server.CreateMasterKeyFile(out); err != nil {
				return err
			}
			key, err := server.LoadMasterKeyFile(out)
			if err != nil {
				return err
			}
			id, err := vault.KeyID(key)
			clear(key)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new master key %s written to %s\n", id, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to create (mode 0600)")
	return cmd
}

func newMasterKeyIDCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "id [--key-file FILE]",
		Short: "Print the id of the configured master key (or of FILE)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var key []byte
			var err error
			if file != "" {
				key, err = server.LoadMasterKeyFile(file)
			} else {
				cfg, cerr := loadConfig(cmd)
				if cerr != nil {
					return cerr
				}
				key, err = server.LoadMasterKey(cfg)
			}
			if err != nil {
				return err
			}
			id, err := vault.KeyID(key)
			clear(key)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "key-file", "", "a master key file instead of the configured key")
	return cmd
}

func newMasterKeyRotateCmd() *cobra.Command {
	var file string
	var batch int
	cmd := &cobra.Command{
		Use:   "rotate --new-key-file FILE",
		Short: "Re-seal the whole store under a new master key (every node stopped)",
		Long: `rotate re-seals every value of the store under the key in FILE (make one with
master-key generate) and wraps the data key under it, then records a
master_key.rotate audit entry. The configured master key (master_key_file
or UKEYGATE_MASTER_KEY) is the current one. Stop every node first: with
bbolt the data file is locked by a running node; with etcd, a node still
running with the old key would write values the new key cannot open.

A crash or kill at any point is safe: run the same command again and it
finishes the rotation. Until it is finished, serve refuses both keys.
Afterwards serve refuses the old key: point master_key_file (or
UKEYGATE_MASTER_KEY) at the new key. Keep the old key only as long as you
keep backups made under it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageErrorf("--new-key-file FILE is required")
			}
			if batch < 0 || batch > 64 {
				return usageErrorf("--batch must be within 1..64")
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			oldKey, err := server.LoadMasterKey(cfg)
			if err != nil {
				return err
			}
			defer clear(oldKey)
			newKey, err := server.LoadMasterKeyFile(file)
			if err != nil {
				return fmt.Errorf("--new-key-file: %w", err)
			}
			defer clear(newKey)
			raw, err := server.OpenStore(cfg)
			if err != nil {
				return err
			}
			errw := cmd.ErrOrStderr()
			res, err := vault.Rotate(cmd.Context(), raw, oldKey, newKey, vault.RotateOptions{
				Batch:    batch,
				Progress: func(n int) { fmt.Fprintf(errw, "re-sealed %d values\n", n) },
			})
			if err = errors.Join(err, raw.Close()); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.AlreadyDone {
				fmt.Fprintf(out, "store %s is already under master key %s: nothing to do\n", res.StoreID, res.NewKeyID)
				return nil
			}
			fmt.Fprintf(out, "store %s rotated from master key %s to %s (%d values re-sealed by this run)\n",
				res.StoreID, res.OldKeyID, res.NewKeyID, res.Resealed)
			fmt.Fprintf(out, "now serve with the new key: set master_key_file to %s (or UKEYGATE_MASTER_KEY); the old key is refused from now on\n", file)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "new-key-file", "", "the new master key (32 raw bytes, mode 0600)")
	cmd.Flags().IntVar(&batch, "batch", 0, "values re-sealed per transaction (default 64)")
	_ = cmd.Flags().MarkHidden("batch")
	return cmd
}
