package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/server"
)

func newInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create data_dir and a new random master key file",
		Long: `init creates data_dir (mode 0700) and writes a new random 32-byte master
key to master_key_file, or <data_dir>/master.key (mode 0600). It never
overwrites an existing key: every secret at rest is wrapped under it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			path, err := server.CreateMasterKey(cfg)
			if err != nil {
				return err
			}
			if abs, err := filepath.Abs(path); err == nil {
				path = abs
			}
			fmt.Fprintf(cmd.OutOrStdout(), "master key written to %s (keep it secret and back it up)\n", path)
			if cfg.MasterKey != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: master_key (UKEYGATE_MASTER_KEY) is set and takes precedence over this file")
			}
			return nil
		},
	}
}
