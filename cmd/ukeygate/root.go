package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// runState records whether a command got past argument parsing: an error
// before that is a usage error (exit code 2).
type runState struct{ started bool }

// cobra runs the root's persistent hooks before a subcommand's own (a
// setting of the cobra package: set once, as the in-process tests build
// command trees side by side).
func init() { cobra.EnableTraverseRunHooks = true }

// newRootCmd builds the whole command tree.
//
// To add a subcommand, write cmd/ukeygate/NAME.go with
// `func newNAMECmd() *cobra.Command` and add ONE line in the marked block
// below. Inside RunE, get the configuration with loadConfig(cmd), the
// context (cancelled by SIGINT/SIGTERM) with cmd.Context(), write with
// cmd.OutOrStdout()/cmd.ErrOrStderr(), and return errors (never os.Exit or
// panic): run prints them as one line and exits 1, or 2 for usageErrorf.
// Do not set SilenceUsage/SilenceErrors or Persistent*Run hooks of your own
// that skip the root's (cobra.EnableTraverseRunHooks is on).
func newRootCmd() (*cobra.Command, *runState) {
	state := &runState{}
	root := &cobra.Command{
		Use:   "ukeygate",
		Short: "ukeygate: a phone replaces the USB crypto key (UKEY)",
		Long: `ukeygate lets a phone replace the USB crypto key that portals ask users
to plug in: the portal shows a QR code, the phone confirms with a PIN, and the
gateway signs or decrypts with the user's SM2 or RSA key.

Quick start:  ukeygate init && ukeygate serve --config config.example.yaml

Configuration: --config FILE (YAML), every key overridable by environment
variables UKEYGATE_<KEY> with dots as underscores (UKEYGATE_SESSION_TTL=60s,
UKEYGATE_STORAGE_BACKEND=etcd, UKEYGATE_STORAGE_ETCD_ENDPOINTS=h1:2379,h2:2379).
UKEYGATE_MASTER_KEY (64 hex digits or base64 of 32 bytes) replaces the
master key file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// A missing required flag is a usage error too: check it
			// before the command counts as started.
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return &usageError{err: err}
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return &usageError{err: err}
			}
			state.started = true
			return nil
		},
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err: err}
	})
	root.PersistentFlags().StringP("config", "c", "",
		"config file (YAML); without it the defaults and UKEYGATE_* variables apply")

	root.AddCommand(newServeCmd())
	root.AddCommand(newInitCmd())
	root.AddCommand(newVersionCmd())

	// ---- Subcommands of other parts: ONE line each, below. ----
	// root.AddCommand(newIssuerCmd())
	root.AddCommand(newIssuerCmd())
	root.AddCommand(newAppCmd())
	root.AddCommand(newUserCmd())
	root.AddCommand(newRACmd())
	root.AddCommand(newDelegationCmd())
	root.AddCommand(newOperatorCmd())
	root.AddCommand(newEscrowCmd())
	root.AddCommand(newCredentialCmd())
	root.AddCommand(newSealCmd())
	root.AddCommand(newDeviceCmd())
	root.AddCommand(newPhoneCmd())
	addPhoneSessionCmds(root)
	root.AddCommand(newPortalCmd())
	root.AddCommand(newAuditCmd())
	root.AddCommand(newBenchCmd())
	root.AddCommand(newBackupCmd(), newRestoreCmd(), newMasterKeyCmd(), newCompactCmd())
	// ---- end of subcommands ----

	refuseUnknownSubcommands(root)

	return root, state
}

// refuseUnknownSubcommands makes every command group below root (issuer,
// phone, …) refuse an unknown subcommand as a usage error; cobra would
// print the group's help and exit 0. A group given no subcommand prints
// its help.
func refuseUnknownSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.HasSubCommands() {
			if c.Run == nil && c.RunE == nil {
				c.Args = cobra.ArbitraryArgs
				c.RunE = func(cmd *cobra.Command, args []string) error {
					if len(args) == 0 {
						return cmd.Help()
					}
					msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
					if cmd.SuggestionsMinimumDistance <= 0 {
						cmd.SuggestionsMinimumDistance = 2 // cobra sets it on the root only
					}
					if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
						msg += "; did you mean " + strings.Join(s, " or ") + "?"
					}
					return usageErrorf("%s", msg)
				}
			}
			refuseUnknownSubcommands(c)
		}
	}
}
