package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/google/pprof/profile"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/bench"
)

// newBenchCmd is `ukeygate bench`: the load generator (package bench).
func newBenchCmd() *cobra.Command {
	cfg := bench.DefaultConfig()
	wc := bench.DefaultWatchConfig()
	cmd := &cobra.Command{
		Use:   "bench [--server URL] --admin-token T [--kind login|sign|decrypt] [--alg SM2|RSA] [--sessions N | --duration D] [--rate R] [--concurrency C]",
		Short: "Load-test a gateway with whole scan sessions (portal, websocket watcher and phone)",
		Long: `Load-test a running gateway through its public protocol only.

Setup (operator API): an internal issuer of --alg (or the one --issuer names),
a portal app, and --users users (default: one per worker), each enrolled with
an in-memory reference phone and holding one credential. These stay on the
server: point bench at a test server.

Then --concurrency workers run sessions until --sessions are done or
--duration has passed (in-flight sessions finish; a run without --duration
stops after --time-limit): the portal creates a session and opens its
websocket, the phone scans the payload and confirms with the matching code and
the PIN, and the watcher receives the completed event with the result.
With --watchers N (the waiting-clients mode) it instead creates N sessions,
each followed by a waiting client (--transport websocket or longpoll), reads
the server's own /metrics (process_resident_memory_bytes,
process_cpu_seconds_total) idle, while they wait and after they leave,
confirms --confirms of them and reports the RSS per waiter, the server's CPU
while they wait and the confirm→event percentiles at the waiters. The
process's open-files soft limit is raised to its hard limit (ulimit -Hn);
N must stay below it. The server's rate limits must allow N creates.

With --cpuprofile-from (the server's debug.pprof_listen) and --duration, the
bench also fetches /debug/pprof/profile for the load's whole seconds and
prints the server's CPU per completed session by category (kdf, crypto,
storage, http, json, logging, gc_runtime, other; docs/benchmarks.md says how
a sample is classified); --cpuprofile-out keeps the profile. That URL is the
one request that does not go to --server. ` + "`ukeygate bench profile FILE --sessions N`" + `
classifies a saved profile.

Reported: sessions/s beside the flow's crypto limit and their ratio (the
limit: two device-signature verifications, the PIN key derivation, the key
unwrap and parse and one signature per session, run on every CPU at once
in this process before the load, and again after a load of 5 s or more,
the limit then being the mean of the two; the one-core time scaled by the
CPUs is shown beside it), p50/p90/p99/max of each phase,
the Go processors the load ran with (--procs: the bench then gives up
the rest of the CPUs to the server it usually shares the machine with),
failures by error code. Every request goes to --server and nowhere else; the exit status is 1
when a session failed.

  ukeygate bench --server http://127.0.0.1:8080 --admin-token T --sessions 500 --concurrency 16
  ukeygate bench --admin-token T --kind sign --alg RSA --duration 30s --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("duration") && !cmd.Flags().Changed("sessions") {
				cfg.Sessions = 0 // the duration alone bounds the run
			}
			op, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			cfg.Server, cfg.AdminToken = op.BaseURL, op.Token
			if err := cfg.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			if cmd.Flags().Changed("watchers") {
				return runWatchBench(cmd, cfg, wc)
			}
			if self, _ := cmd.Flags().GetString("self-cpuprofile"); self != "" {
				f, err := os.Create(self)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			r, err := bench.Run(cmd.Context(), cfg)
			pprof.StopCPUProfile() // a no-op without --self-cpuprofile
			if err != nil {
				return err
			}
			if out, _ := cmd.Flags().GetString("cpuprofile-out"); out != "" && r.CPUProfileRaw != nil {
				if err := os.WriteFile(out, r.CPUProfileRaw, 0o600); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return err
				}
				if _, err := out.Write(append(b, '\n')); err != nil {
					return err
				}
			} else if err := r.WriteText(out); err != nil {
				return err
			}
			if r.Failed > 0 {
				return fmt.Errorf("%d of %d sessions failed", r.Failed, r.Sessions)
			}
			return nil
		},
	}
	addServerFlag(cmd)
	fl := cmd.Flags()
	fl.String("admin-token", "", "operator API token for the setup (env "+envAdminToken+")")
	fl.Bool("json", false, "print the report as JSON")
	fl.StringVar(&cfg.Kind, "kind", cfg.Kind, "session kind: login, sign or decrypt")
	fl.StringVar(&cfg.Alg, "alg", cfg.Alg, "algorithm: SM2 or RSA")
	fl.StringVar(&cfg.Issuer, "issuer", "", "take credentials from this existing issuer (default: create an internal one)")
	fl.IntVar(&cfg.Sessions, "sessions", cfg.Sessions, fmt.Sprintf("sessions to run (at most %d)", bench.MaxSessions))
	fl.DurationVar(&cfg.Duration, "duration", 0, "run for this long instead of a session count (with --sessions: whichever comes first)")
	fl.DurationVar(&cfg.TimeLimit, "time-limit", cfg.TimeLimit, "stop starting sessions after this long when --duration is not given")
	fl.Float64Var(&cfg.Rate, "rate", 0, "start at most this many sessions per second, spread evenly (steady load for a soak; 0: as fast as the workers go)")
	fl.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "workers, each running one session at a time")
	fl.IntVar(&cfg.LoadProcs, "procs", bench.DefaultLoadProcs(runtime.NumCPU()), "Go processors (GOMAXPROCS) the bench runs the load with, after timing the crypto limit with Go's default: a quarter of the CPUs, at least 1, since it usually shares the machine with the server; 0 = Go's default")
	fl.IntVar(&cfg.Users, "users", 0, "enrolled users the workers take in turn (default: one per worker)")
	fl.DurationVar(&cfg.SessionTimeout, "session-timeout", cfg.SessionTimeout, "bound on one session's whole flow")
	fl.BoolVar(&cfg.Verify, "verify", false, "verify every login/sign result's signature on the client (costs client CPU)")
	fl.BoolVar(&cfg.Cosign, "cosign", false, "two-party SM2 credentials (SM2 only): each confirm is two requests, the phone's half computed here")
	fl.StringVar(&cfg.CPUProfileFrom, "cpuprofile-from", "", "the server's pprof listener (debug.pprof_listen, e.g. http://127.0.0.1:6060): take a CPU profile of the server over the load (needs --duration) and print CPU ms per completed session by category")
	fl.String("cpuprofile-out", "", "with --cpuprofile-from: also save the profile to this file (for go tool pprof or bench profile)")
	fl.String("self-cpuprofile", "", "write the bench client's own CPU profile (setup and load) to this file")
	_ = fl.MarkHidden("self-cpuprofile")
	fl.IntVar(&wc.Watchers, "watchers", wc.Watchers, "waiting-clients mode: open this many waiting clients (see --transport) instead of running sessions")
	fl.StringVar(&wc.Transport, "transport", wc.Transport, "waiting-clients mode: websocket or longpoll")
	fl.IntVar(&wc.Confirms, "confirms", wc.Confirms, "waiting-clients mode: waiting sessions to confirm for the confirm→event latency")
	fl.DurationVar(&wc.Settle, "settle", wc.Settle, "waiting-clients mode: wait this long after the clients opened and after they left before reading the server's memory")
	fl.DurationVar(&wc.LeftSettle, "left-settle", 0, "waiting-clients mode: wait this long after the clients left instead of --settle (0: --settle)")
	fl.DurationVar(&wc.IdleWindow, "idle-window", wc.IdleWindow, "waiting-clients mode: measure the server's CPU over this long while every client waits")
	cmd.AddCommand(newBenchProfileCmd())
	return cmd
}

// newBenchProfileCmd is `ukeygate bench profile FILE`: the classifier of
// --cpuprofile-from, on a saved CPU profile.
func newBenchProfileCmd() *cobra.Command {
	var sessions int
	var asJSON, top bool
	cmd := &cobra.Command{
		Use:   "profile FILE --sessions N",
		Short: "Split a saved server CPU profile into categories per completed session",
		Long: `profile reads a Go CPU profile of the server (go tool pprof's format, as
/debug/pprof/profile or --cpuprofile-out writes it), sorts each sample into
kdf, crypto, storage, http, json, logging, gc_runtime or other (walking its
stack from the leaf up, the first recognised frame decides; docs/benchmarks.md)
and prints each category's CPU divided by --sessions, the sessions the
server completed while the profile was taken.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sessions < 0 {
				return usageErrorf("--sessions must be ≥ 0")
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			p, err := profile.Parse(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			r, err := bench.ClassifyProfile(p, sessions)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return err
				}
				_, err = out.Write(append(b, '\n'))
				return err
			}
			if err := r.WriteText(out); err != nil || !top {
				return err
			}
			return r.WriteTop(out)
		},
	}
	cmd.Flags().BoolVar(&top, "top", false, "also list, per category, the frames that decided most of its samples")
	cmd.Flags().IntVar(&sessions, "sessions", 0, "sessions completed while the profile was taken (0: no per-session figures)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// runWatchBench is `ukeygate bench --watchers N`.
func runWatchBench(cmd *cobra.Command, cfg bench.Config, wc bench.WatchConfig) error {
	if err := wc.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	r, err := bench.RunWatchers(cmd.Context(), cfg, wc)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if _, err := out.Write(append(b, '\n')); err != nil {
			return err
		}
	} else if err := r.WriteText(out); err != nil {
		return err
	}
	return r.Failed()
}
