package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/server"
)

func newServeCmd() *cobra.Command {
	var demoPublic bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway server",
		Long: `serve opens the store, loads the master key and serves the HTTP API until
SIGINT or SIGTERM; then in-flight requests get http.shutdown_timeout to
finish and the store is closed. A second signal stops at once.

With demo: true (the demo portal, whose app key any visitor can use) serve
refuses a listen address that is not loopback, unless told
--i-know-demo-is-public.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cfg.Demo && !demoPublic && !server.LoopbackListen(cfg.Listen) {
				return fmt.Errorf("demo: true with listen %s, which is not a loopback address: the demo portal lets anyone run sessions with its app key; set demo: false (UKEYGATE_DEMO=false) for production, or give --i-know-demo-is-public", cfg.Listen)
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
			log := server.NewLogger(cfg.Log, cmd.ErrOrStderr())
			if os.Getenv("GOGC") != "" {
				cfg.Memory.GCHeadroom = 0 // the operator's GOGC wins
			}
			procs := server.Procs(cfg, os.Getenv("GOMAXPROCS"), goProcs)
			if procs > 0 {
				runtime.GOMAXPROCS(procs)
			}
			srv, err := server.New(cfg, master, log)
			if err != nil {
				ln.Close()
				return err
			}
			if procs > 0 {
				log.Info("Go processors: Go's default plus storage.bolt.extra_procs for the store's writer", "gomaxprocs", procs, "default", goProcs)
			}
			return srv.ServeListener(cmd.Context(), ln)
		},
	}
	cmd.Flags().BoolVar(&demoPublic, "i-know-demo-is-public", false, "serve the demo portal on a non-loopback address anyway")
	return cmd
}

// goProcs is Go's GOMAXPROCS when the process started (its default for
// the machine or container, or the GOMAXPROCS variable): serve adds
// storage.bolt.extra_procs to it once, however often it runs in one
// process.
var goProcs = runtime.GOMAXPROCS(0)
