package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
)

// ukeygate escrow: the custodian ceremony and dual-control recoveries of
// escrowed encryption keys (docs/operations.md, "Key escrow"); ukeygate
// user reset-pin: the forgotten-PIN reset.

func newEscrowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "escrow",
		Short: "Escrow key ceremony and dual-control recovery of escrowed encryption keys (operator API)",
		Long: `The escrow key is split among custodians (named operators): a recovery needs
shares from a threshold of distinct custodians, none of them the operator
who asked for it. Each custodian's share is written once to a file sealed
under a passphrase the custodian types; the gateway keeps no copy.

  escrow init     the ceremony (admin token; custodians present)
  escrow show     the escrow key, threshold, custodians, share fingerprints
                  (and the keys rotations retired)
  escrow recover  open a recovery for a user whose PIN was reset
  escrow approve  a custodian submits their share (with their own token)
  escrow status   one recovery; escrow list: all of them
  escrow rotate   the ceremony for a new key (a custodian leaves, a share
                  or passphrase is lost or suspected; admin token)
  escrow rotation confirm|approve|status|list|cancel|abandon
                  new custodians confirm their new share files, then
                  custodians of the current key approve the rotation`,
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newEscrowInitCmd(), newEscrowShowCmd(), newEscrowRecoverCmd(), newEscrowApproveCmd(),
		newEscrowStatusCmd(), newEscrowListCmd(), newEscrowRotateCmd(), newEscrowRotationCmd())
	return cmd
}

// secretReader reads passphrases: lines of standard input with
// --passphrase-stdin, else prompts on the terminal without echo.
type secretReader struct {
	cmd  *cobra.Command
	in   *bufio.Reader
	pipe bool
}

func newSecretReader(cmd *cobra.Command) *secretReader {
	pipe, _ := cmd.Flags().GetBool("passphrase-stdin")
	return &secretReader{cmd: cmd, in: bufio.NewReader(stdin(cmd)), pipe: pipe}
}

func (s *secretReader) read(prompt string) (string, error) {
	if s.pipe {
		line, err := s.in.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", usageErrorf("no passphrase on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := stdin(s.cmd).(*os.File)
	if !ok || !isTerminal(f) {
		return "", usageErrorf("no passphrase: run in a terminal or give --passphrase-stdin")
	}
	fmt.Fprint(s.cmd.ErrOrStderr(), prompt)
	off := exec.Command("stty", "-echo")
	off.Stdin = f
	if off.Run() == nil {
		defer func() {
			on := exec.Command("stty", "echo")
			on.Stdin = f
			_ = on.Run()
		}()
	}
	line, err := s.in.ReadString('\n')
	fmt.Fprintln(s.cmd.ErrOrStderr())
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newEscrowInitCmd() *cobra.Command {
	var custodians []string
	var threshold, iterations int
	var outDir string
	cmd := &cobra.Command{
		Use:   "init --custodian NAME --custodian NAME [...] [--threshold K] --out DIR",
		Short: "Create the escrow key and write each custodian's share file (once per deployment; admin token)",
		Long: `Each custodian types a passphrase (twice) in turn; their share is written to
DIR/<custodian>.share sealed under it. Hand each file to its custodian
(removable medium, then delete it here): the gateway keeps no copy, and a
lost share file or passphrase cannot be replaced. With --passphrase-stdin
the passphrases are read one per line, each once, in custodian order.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkCeremony(custodians, outDir); err != nil {
				return err
			}
			req := protocol.EscrowInitRequest{Threshold: threshold, Iterations: iterations}
			var err error
			if req.Custodians, err = readCustodianPassphrases(cmd, custodians); err != nil {
				return err
			}
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			raw, err := c.call(cmd.Context(), "POST", "/v1/admin/escrow", req)
			if err != nil {
				return err
			}
			var out protocol.EscrowCreated
			if err := render(cmd, raw, &out, func(tw *table) {}); err != nil {
				return err
			}
			if err := writeShareFiles(outDir, out.Shares, "the escrow key exists"); err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				return nil
			}
			tw := newTable(cmd.OutOrStdout())
			escrowTable(tw, &out.Escrow)
			fmt.Fprintf(tw, "\nShare files written to %s (one per custodian, sealed under their passphrase).\n", outDir)
			fmt.Fprintln(tw, "Hand each to its custodian and delete it here: the gateway keeps no copy.")
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&custodians, "custodian", nil, "a custodian (named operator); repeat for each")
	f.IntVar(&threshold, "threshold", 0, "distinct custodians a recovery needs (default 2)")
	f.IntVar(&iterations, "iterations", 0, "PBKDF2-SM3 iterations of the share files (default 200000)")
	f.StringVar(&outDir, "out", "", "directory to write the share files to")
	f.Bool("passphrase-stdin", false, "read the passphrases from standard input, one per line")
	return cmd
}

// checkCeremony checks a ceremony's custodians and that none of their
// share files exists in outDir yet.
func checkCeremony(custodians []string, outDir string) error {
	if len(custodians) < 2 {
		return usageErrorf("give at least two --custodian (named operators)")
	}
	if outDir == "" {
		return usageErrorf("--out DIR is required: where the share files are written")
	}
	for _, c := range custodians {
		if _, err := os.Stat(filepath.Join(outDir, c+".share")); err == nil {
			return usageErrorf("%s already exists: move it away first", filepath.Join(outDir, c+".share"))
		}
	}
	return nil
}

// readCustodianPassphrases has each custodian type the passphrase of their
// share file (twice on a terminal), in turn.
func readCustodianPassphrases(cmd *cobra.Command, custodians []string) ([]protocol.EscrowCustodianRequest, error) {
	var out []protocol.EscrowCustodianRequest
	sr := newSecretReader(cmd)
	for _, c := range custodians {
		p, err := sr.read("Passphrase of custodian " + c + ": ")
		if err != nil {
			return nil, err
		}
		if !sr.pipe {
			again, err := sr.read("Again: ")
			if err != nil {
				return nil, err
			}
			if again != p {
				return nil, usageErrorf("the two passphrases of %s differ", c)
			}
		}
		if len(p) < ca.MinPassphraseLen || len(p) > ca.MaxPassphraseLen {
			return nil, usageErrorf("the passphrase of %s must be %d to %d bytes", c, ca.MinPassphraseLen, ca.MaxPassphraseLen)
		}
		out = append(out, protocol.EscrowCustodianRequest{Name: c, Passphrase: p})
	}
	return out, nil
}

// writeShareFiles writes each share to outDir/<custodian>.share (0600);
// done says what exists already when one cannot be written.
func writeShareFiles(outDir string, shares []protocol.EscrowShare, done string) error {
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return err
	}
	for _, s := range shares {
		file := filepath.Join(outDir, s.Custodian+".share")
		if err := os.WriteFile(file, []byte(s.File), 0o600); err != nil {
			return fmt.Errorf("%s but share %s was not written (%w): its custodian has no share", done, file, err)
		}
	}
	return nil
}

func escrowTable(tw *table, e *protocol.Escrow) {
	fmt.Fprintf(tw, "Escrow key %s: %d of %d custodians (created %s by %s)\n", e.ID, e.Threshold, len(e.Custodians),
		e.CreatedAt.UTC().Format(time.RFC3339), e.CreatedBy)
	row(tw, "INDEX", "CUSTODIAN", "SHARE FINGERPRINT")
	for _, c := range e.Custodians {
		row(tw, c.Index, c.Name, c.Fingerprint)
	}
}

func newEscrowShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show the escrow key: threshold, custodians and their share fingerprints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out protocol.EscrowDetail
			return opPrint(cmd, "GET", "/v1/admin/escrow", nil, &out, func(tw *table) {
				escrowTable(tw, &out.Escrow)
				if len(out.Retired) == 0 {
					return
				}
				fmt.Fprintf(tw, "\nRetired escrow keys (destroy their share files once their rotation is rotated):\n")
				row(tw, "ID", "RETIRED", "SUPERSEDED BY", "ROTATION", "CUSTODIANS", "STRANDED")
				for _, r := range out.Retired {
					var names []string
					for _, c := range r.Custodians {
						names = append(names, c.Name)
					}
					row(tw, r.ID, r.RetiredAt, r.SupersededBy, r.Rotation, fmt.Sprintf("%d of %s", r.Threshold, strings.Join(names, ",")), r.StrandedCount)
				}
				for _, r := range out.Retired {
					if r.StrandedCount > 0 {
						fmt.Fprintf(tw, "\n%d credentials are still escrowed under the retired key %s: the current custodians cannot recover them\n"+
							"(each moves to the current key the next time its owner's PIN unlocks it; else renew it): %s\n",
							r.StrandedCount, r.ID, strandedList(r.Stranded, r.StrandedCount))
					}
				}
			})
		},
	}
}

func recoveryTable(tw *table, list []protocol.Recovery) {
	row(tw, "ID", "USER", "STATE", "APPROVALS", "REQUESTED BY", "EXPIRES", "CREDENTIALS", "REASON")
	for _, r := range list {
		var names []string
		for _, a := range r.Approvals {
			names = append(names, a.Custodian)
		}
		row(tw, r.ID, r.User, r.State, fmt.Sprintf("%d/%d %s", len(r.Approvals), r.Threshold, strings.Join(names, ",")),
			r.RequestedBy, r.ExpiresAt.UTC().Format(time.RFC3339), strings.Join(r.Credentials, ","), cellText(r.Reason))
	}
}

func newEscrowRecoverCmd() *cobra.Command {
	var req protocol.RecoveryRequest
	cmd := &cobra.Command{
		Use:   "recover USER --reason TEXT [--credential ID]... [--ttl 24h]",
		Short: "Open a recovery of a user's escrowed encryption keys (after user reset-pin)",
		Long: `Two other operators who are custodians then run "escrow approve" with their
share files. The recovered keys wait (7 days) for the user to prove their new
PIN on the phone ("phone recover" or the phone app).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.User = args[0]
			if strings.TrimSpace(req.Reason) == "" {
				return usageErrorf("--reason is required (it is audited)")
			}
			var out protocol.Recovery
			return opPrint(cmd, "POST", "/v1/admin/escrow/recoveries", req, &out, func(tw *table) {
				recoveryTable(tw, []protocol.Recovery{out})
				fmt.Fprintf(tw, "\n%d custodians other than %s must now run: ukeygate escrow approve %s --share FILE\n", out.Threshold, out.RequestedBy, out.ID)
			})
		},
	}
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why (audited; required)")
	cmd.Flags().StringArrayVar(&req.Credentials, "credential", nil, "a credential to recover (default: all waiting)")
	cmd.Flags().StringVar(&req.TTL, "ttl", "", "how long the request waits for shares (default 24h, at most 168h)")
	return cmd
}

func newEscrowApproveCmd() *cobra.Command {
	var shareFile string
	cmd := &cobra.Command{
		Use:   "approve RECOVERY --share FILE",
		Short: "Submit your share to a recovery (custodians only, with their own operator token)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := readShareRequest(cmd, shareFile, "your share file")
			if err != nil {
				return err
			}
			var out protocol.Recovery
			return opPrint(cmd, "POST", "/v1/admin/escrow/recoveries/"+url.PathEscape(args[0])+"/shares",
				req, &out, func(tw *table) {
					recoveryTable(tw, []protocol.Recovery{out})
					if out.State == "recovered" {
						fmt.Fprintln(tw, "\nRecovered: the keys wait for the user's PIN on their phone.")
					}
				})
		},
	}
	cmd.Flags().StringVar(&shareFile, "share", "", "your share file")
	cmd.Flags().Bool("passphrase-stdin", false, "read the passphrase from standard input")
	return cmd
}

// readShareRequest reads a custodian's share file (what names what the
// file must be when --share is missing) and has them type its passphrase.
func readShareRequest(cmd *cobra.Command, shareFile, what string) (protocol.ShareRequest, error) {
	if shareFile == "" {
		return protocol.ShareRequest{}, usageErrorf("--share FILE is required: %s", what)
	}
	b, err := readFile(shareFile)
	if err != nil {
		return protocol.ShareRequest{}, err
	}
	if _, err := ca.ParseShareFile(b); err != nil {
		return protocol.ShareRequest{}, usageErrorf("%s is not a share file: %v", shareFile, err)
	}
	p, err := newSecretReader(cmd).read("Passphrase of your share: ")
	if err != nil {
		return protocol.ShareRequest{}, err
	}
	return protocol.ShareRequest{Share: string(b), Passphrase: p}, nil
}

func newEscrowStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status RECOVERY",
		Short: "Show one recovery request",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out protocol.Recovery
			return opPrint(cmd, "GET", "/v1/admin/escrow/recoveries/"+url.PathEscape(args[0]), nil, &out,
				func(tw *table) { recoveryTable(tw, []protocol.Recovery{out}) })
		},
	}
}

func newEscrowListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the recovery requests, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out protocol.RecoveryList
			return opPrint(cmd, "GET", "/v1/admin/escrow/recoveries", nil, &out, func(tw *table) { recoveryTable(tw, out.Recoveries) })
		},
	}
}

func newEscrowRotateCmd() *cobra.Command {
	var custodians []string
	var threshold, iterations int
	var outDir string
	var req protocol.EscrowRotationRequest
	cmd := &cobra.Command{
		Use:   "rotate --custodian NAME --custodian NAME [...] [--threshold K] --reason TEXT [--ttl 24h] --out DIR",
		Short: "Rotate the escrow key: the ceremony for the new key and its custodians (admin token)",
		Long: `When a custodian leaves, or a share file or passphrase is lost or suspected.
The ceremony runs as "escrow init" does, for the NEW key: each new custodian
types a passphrase (twice) in turn and their new share is written to
DIR/<custodian>.share (use another DIR than the current shares'). The new key
replaces the current one when custodians of the CURRENT key (its threshold,
not the admin) approve with their current share files:

  ukeygate escrow rotation approve rot_… --share FILE

The last approval re-encrypts every escrow copy to the new key; then destroy
the old share files. With --passphrase-stdin the passphrases are read one per
line, each once, in custodian order.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(req.Reason) == "" {
				return usageErrorf("--reason is required (it is audited)")
			}
			if err := checkCeremony(custodians, outDir); err != nil {
				return err
			}
			req.Threshold, req.Iterations = threshold, iterations
			var err error
			if req.Custodians, err = readCustodianPassphrases(cmd, custodians); err != nil {
				return err
			}
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			raw, err := c.call(cmd.Context(), "POST", "/v1/admin/escrow/rotations", req)
			if err != nil {
				return err
			}
			var out protocol.EscrowRotationCreated
			if err := render(cmd, raw, &out, func(tw *table) {}); err != nil {
				return err
			}
			rot := out.Rotation
			if err := writeShareFiles(outDir, out.Shares, "rotation "+rot.ID+" is open"); err != nil {
				// Without its share files the new key must never become
				// current: cancel the rotation at once.
				if _, cerr := c.call(context.WithoutCancel(cmd.Context()), "POST", "/v1/admin/escrow/rotations/"+url.PathEscape(rot.ID)+"/cancel", nil); cerr != nil {
					return fmt.Errorf("%w; canceling it failed too (%v): cancel it (ukeygate escrow rotation cancel %s) before anyone approves it", err, cerr, rot.ID)
				}
				return fmt.Errorf("%w; rotation %s was canceled: rotate again", err, rot.ID)
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				return nil
			}
			tw := newTable(cmd.OutOrStdout())
			rotationTable(tw, []protocol.EscrowRotation{rot})
			fmt.Fprintln(tw)
			escrowTable(tw, &rot.Next)
			fmt.Fprintf(tw, "\nShare files of the new key written to %s (one per custodian, sealed under their passphrase).\n", outDir)
			fmt.Fprintln(tw, "Hand each to its custodian and delete it here: the gateway keeps no copy.")
			fmt.Fprintf(tw, "Each new custodian (%s) must now confirm their new share file: ukeygate escrow rotation confirm %s --share FILE\n",
				strings.Join(rot.Unconfirmed, ", "), rot.ID)
			fmt.Fprintf(tw, "Then %d custodians of the current key %s run: ukeygate escrow rotation approve %s --share FILE\n",
				rot.Threshold, rot.From, rot.ID)
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&custodians, "custodian", nil, "a custodian of the new key (named operator); repeat for each")
	f.IntVar(&threshold, "threshold", 0, "distinct custodians a recovery with the new key needs (default 2)")
	f.IntVar(&iterations, "iterations", 0, "PBKDF2-SM3 iterations of the new share files (default 200000)")
	f.StringVar(&req.Reason, "reason", "", "why (audited; required)")
	f.StringVar(&req.TTL, "ttl", "", "how long the rotation waits for approvals (default 24h, at most 168h)")
	f.StringVar(&outDir, "out", "", "directory to write the new share files to")
	f.Bool("passphrase-stdin", false, "read the passphrases from standard input, one per line")
	return cmd
}

func newEscrowRotationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotation",
		Short: "Approve and follow escrow key rotations (escrow rotate opens one)",
	}
	cmd.AddCommand(newEscrowRotationConfirmCmd(), newEscrowRotationApproveCmd(), newEscrowRotationStatusCmd(), newEscrowRotationListCmd(),
		newEscrowRotationCancelCmd(), newEscrowRotationAbandonCmd())
	return cmd
}

func rotationTable(tw *table, list []protocol.EscrowRotation) {
	row(tw, "ID", "STATE", "FROM", "TO", "APPROVALS", "REQUESTED BY", "EXPIRES", "MOVED", "REASON")
	for _, r := range list {
		approvals := r.Approvals
		if len(approvals) == 0 {
			approvals = r.Approved
		}
		var names []string
		for _, a := range approvals {
			names = append(names, a.Custodian)
		}
		row(tw, r.ID, r.State, r.From, r.Next.ID, fmt.Sprintf("%d/%d %s", len(approvals), r.Threshold, strings.Join(names, ",")),
			r.RequestedBy, r.ExpiresAt.UTC().Format(time.RFC3339), r.Moved, cellText(r.Reason))
	}
}

// rotationDetails prints, under a rotation's table, who of the new
// custodians confirmed their share file and who has not, and what an
// abandoned rotation left behind.
func rotationDetails(tw *table, r protocol.EscrowRotation) {
	if r.State == "open" || len(r.Confirmations) > 0 {
		var done []string
		for _, c := range r.Confirmations {
			done = append(done, c.Custodian+" ("+c.At.UTC().Format(time.RFC3339)+")")
		}
		fmt.Fprintf(tw, "\nConfirmed new share files: %s\n", orNone(done))
		if r.State == "open" {
			fmt.Fprintf(tw, "Not confirmed yet: %s\n", orNone(r.Unconfirmed))
		}
	}
	if r.State == "abandoned" {
		fmt.Fprintf(tw, "\nAbandoned %s by %s: %s\n", r.AbandonedAt.UTC().Format(time.RFC3339), r.AbandonedBy, cellText(r.AbandonReason))
		fmt.Fprintf(tw, "Escrow copies left under the retired key %s (not recoverable by the current custodians): %s\n",
			r.From, strandedList(r.Stranded, r.StrandedCount))
	}
}

// strandedList names the credentials listed, saying how many more there are.
func strandedList(ids []string, count int) string {
	s := orNone(ids)
	if count > len(ids) {
		s += fmt.Sprintf(" and %d more", count-len(ids))
	}
	return s
}

func newEscrowRotationConfirmCmd() *cobra.Command {
	var shareFile string
	cmd := &cobra.Command{
		Use:   "confirm ROTATION --share FILE",
		Short: "Confirm your share file of the NEW key (its custodians only, with their own operator token)",
		Long: `Each custodian of the new key proves, before the current key's custodians
approve, that their new share file opens under their passphrase. The gateway
opens it, checks it against the fingerprint recorded at the ceremony, and
keeps only the fact that you confirmed. Approvals are refused
(rotation_unconfirmed) until every new custodian has confirmed. Confirming
again does no harm.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := readShareRequest(cmd, shareFile, "your share file of the NEW escrow key")
			if err != nil {
				return err
			}
			var out protocol.EscrowRotation
			return opPrint(cmd, "POST", "/v1/admin/escrow/rotations/"+url.PathEscape(args[0])+"/confirmations",
				req, &out, func(tw *table) {
					rotationTable(tw, []protocol.EscrowRotation{out})
					rotationDetails(tw, out)
					if len(out.Unconfirmed) == 0 {
						fmt.Fprintf(tw, "\nEvery new custodian has confirmed: %d custodians of %s may now approve (ukeygate escrow rotation approve %s --share FILE).\n",
							out.Threshold, out.From, out.ID)
					}
				})
		},
	}
	cmd.Flags().StringVar(&shareFile, "share", "", "your share file of the new escrow key")
	cmd.Flags().Bool("passphrase-stdin", false, "read the passphrase from standard input")
	return cmd
}

func newEscrowRotationAbandonCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "abandon ROTATION --reason TEXT",
		Short: "Abandon a moving rotation whose move cannot be finished (admin token)",
		Long: `Only for a rotation left "moving" (its move stopped half-way) when the
custodians of the retired key can no longer approve it again. The escrow
copies not yet moved stay under the retired key: the current custodians
cannot recover them. Each moves to the current key the next time its owner's
PIN unlocks the key; a credential whose owner cannot (a forgotten PIN) must
be renewed to be escrowed again. "escrow show" lists them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageErrorf("--reason is required (it is audited)")
			}
			var out protocol.EscrowRotation
			return opPrint(cmd, "POST", "/v1/admin/escrow/rotations/"+url.PathEscape(args[0])+"/abandon",
				protocol.RotationAbandonRequest{Reason: reason}, &out, func(tw *table) {
					rotationTable(tw, []protocol.EscrowRotation{out})
					rotationDetails(tw, out)
				})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (audited; required)")
	return cmd
}

func newEscrowRotationApproveCmd() *cobra.Command {
	var shareFile string
	cmd := &cobra.Command{
		Use:   "approve ROTATION --share FILE",
		Short: "Approve a rotation with your share of the CURRENT key (its custodians only, with their own operator token)",
		Long: `The threshold-th approval switches the escrow key and re-encrypts every
escrow copy to the new one. A rotation that stays "moving" (the move stopped
half-way) is approved again the same way, with the same share files.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := readShareRequest(cmd, shareFile, "your share file of the current escrow key")
			if err != nil {
				return err
			}
			var out protocol.EscrowRotation
			return opPrint(cmd, "POST", "/v1/admin/escrow/rotations/"+url.PathEscape(args[0])+"/shares",
				req, &out, func(tw *table) {
					rotationTable(tw, []protocol.EscrowRotation{out})
					if out.State == "rotated" {
						fmt.Fprintf(tw, "\nRotated: %s is the escrow key (%d escrow copies moved). Destroy the share files of %s.\n",
							out.Next.ID, out.Moved, out.From)
					}
					if len(out.Unopened) > 0 {
						fmt.Fprintf(tw, "These escrow copies did not open under %s (damaged before the rotation) and stay as they were: %s\n",
							out.From, strings.Join(out.Unopened, ", "))
					}
				})
		},
	}
	cmd.Flags().StringVar(&shareFile, "share", "", "your share file of the current escrow key")
	cmd.Flags().Bool("passphrase-stdin", false, "read the passphrase from standard input")
	return cmd
}

func newEscrowRotationStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status ROTATION",
		Short: "Show one escrow key rotation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out protocol.EscrowRotation
			return opPrint(cmd, "GET", "/v1/admin/escrow/rotations/"+url.PathEscape(args[0]), nil, &out,
				func(tw *table) {
					rotationTable(tw, []protocol.EscrowRotation{out})
					rotationDetails(tw, out)
				})
		},
	}
}

func newEscrowRotationCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ROTATION",
		Short: "Cancel an open rotation that has not switched the key (admin token): its share files then open nothing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out protocol.EscrowRotation
			return opPrint(cmd, "POST", "/v1/admin/escrow/rotations/"+url.PathEscape(args[0])+"/cancel", nil, &out,
				func(tw *table) { rotationTable(tw, []protocol.EscrowRotation{out}) })
		},
	}
}

func newEscrowRotationListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the escrow key rotations, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out protocol.EscrowRotationList
			return opPrint(cmd, "GET", "/v1/admin/escrow/rotations", nil, &out, func(tw *table) { rotationTable(tw, out.Rotations) })
		},
	}
}

func newUserResetPINCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "reset-pin USER --reason TEXT",
		Short: "Forgotten PIN: after re-verifying the user's identity, reset devices and PIN and print a new activation code",
		Long: `Revokes the user's devices and signing credentials (re-issued when the user
enrolls again with a new PIN), keeps escrowed encryption keys for a
dual-control recovery ("escrow recover"), and revokes encryption credentials
without escrow: their keys are LOST, and what was encrypted to them can no
longer be opened. Tell the user which ones (listed as LOST).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageErrorf("--reason is required: how the user's identity was verified again (audited)")
			}
			var out protocol.PINReset
			return opPrint(cmd, "POST", "/v1/admin/users/"+url.PathEscape(args[0])+"/reset-pin", protocol.PINResetRequest{Reason: reason}, &out,
				func(tw *table) {
					fmt.Fprintf(tw, "PIN of %s (%s) reset.\n", out.User.ID, out.User.Name)
					fmt.Fprintf(tw, "Devices revoked: %s\n", orNone(out.RevokedDevices))
					fmt.Fprintf(tw, "Signing credentials revoked: %s (%d re-issued at the next enrollment)\n", orNone(out.Revoked), out.Reissue)
					fmt.Fprintf(tw, "Escrowed, awaiting recovery: %s\n", orNone(out.AwaitingRecovery))
					fmt.Fprintf(tw, "LOST (no escrow; revoked): %s\n", orNone(out.Lost))
					fmt.Fprintf(tw, "\nActivation code (shown once): %s\nEnrollment link: %s\n", out.ActivationCode, out.EnrollmentURL)
				})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "how the identity was verified again (audited; required)")
	return cmd
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

func newPhoneRecoverCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "recover",
		Short: "After a PIN reset and an escrow recovery: take the recovered encryption keys under your PIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := phoneClient(cmd)
			if err != nil {
				return err
			}
			pin, err := (&pinReader{cmd: cmd}).read("PIN: ")
			if err != nil {
				return err
			}
			if err := checkPINForm(pin); err != nil {
				return err
			}
			var out protocol.Recovered
			if err := c.Do(cmd.Context(), "POST", "/v1/me/recovery", protocol.MyRecoveryRequest{PIN: pin}, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd, out)
			}
			return phoneCredentialTable(cmd, out.Credentials)
		},
	}
}
