package main

import (
	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/server"
)

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway server",
		Long: `serve opens the store, loads the master key and serves the HTTP API until
SIGINT or SIGTERM; then in-flight requests get http.shutdown_timeout to
finish and the store is closed. A second signal stops at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			master, err := server.LoadMasterKey(cfg)
			if err != nil {
				return err
			}
			// Bind first: a busy port is refused before the store is
			// opened or anything is created.
			ln, err := server.Listen(cfg)
			if err != nil {
				return err
			}
			srv, err := server.New(cfg, master, server.NewLogger(cfg.Log, cmd.ErrOrStderr()))
			if err != nil {
				ln.Close()
				return err
			}
			return srv.ServeListener(cmd.Context(), ln)
		},
	}
}
