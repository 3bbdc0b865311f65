package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

// The audit log through the operator API: list entries, and verify the
// SM3 chain both here (keyless, audit.VerifyChain) and on the server
// (which also checks the sealed head).

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the SM3-chained audit log (operator API)",
		Long: `Read and verify the audit log: one entry per use of a user's key (login,
sign, decrypt, with the digest of what was signed or decrypted) and per
envelope made for a portal, each entry chained to the one before by SM3.

  ukeygate audit list [--user ID] [--session ID] [--app ID] [--action sign] [--after SEQ] [--limit N]
  ukeygate audit verify`,
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newAuditListCmd(), newAuditVerifyCmd())
	return cmd
}

func newAuditListCmd() *cobra.Command {
	var user, sess, app, action, onBehalfOf string
	var after int64
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--user ID] [--session ID] [--app ID] [--action ACTION] [--on-behalf-of ORG] [--after SEQ] [--limit N]",
		Short: "List audit entries, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if after < 0 || limit < 0 || limit > api.MaxAuditLimit {
				return usageErrorf("--after must be ≥ 0 and --limit within 1..%d", api.MaxAuditLimit)
			}
			params := map[string]string{"user": user, "session": sess, "app": app, "action": action, "on_behalf_of": onBehalfOf}
			if after > 0 {
				params["after"] = strconv.FormatInt(after, 10)
			}
			if limit > 0 {
				params["limit"] = strconv.Itoa(limit)
			}
			var out operator.AuditPage
			return opPrint(cmd, "GET", withQuery("/v1/admin/audit", params), nil, &out, func(tw *table) {
				row(tw, "SEQ", "TIME", "ACTION", "OUTCOME", "USER", "CREDENTIAL", "APP", "SESSION", "DIGEST", "DETAIL")
				for _, e := range out.Entries {
					digest := e.Digest
					if len(digest) > 16 {
						digest = digest[:16] + "…"
					}
					who := e.UserID
					if e.OnBehalfOf != "" {
						who += " for " + e.OnBehalfOf // a staff member's use through a delegation
					}
					row(tw, e.Seq, e.Time, e.Action, e.Outcome, who, e.CredentialID, e.AppID, e.SessionID, digest, e.Detail)
				}
				if out.NextAfter > 0 {
					fmt.Fprintf(tw, "\nMore entries follow: --after %d\n", out.NextAfter)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "only this user's entries")
	f.StringVar(&sess, "session", "", "only this session's entries")
	f.StringVar(&app, "app", "", "only this app's entries")
	f.StringVar(&action, "action", "", "only this action (login, sign, decrypt, encrypt, …)")
	f.StringVar(&onBehalfOf, "on-behalf-of", "", "only the uses of this organisation's credentials by its staff (delegations)")
	f.Int64Var(&after, "after", 0, "only entries after this sequence number")
	f.IntVar(&limit, "limit", 0, fmt.Sprintf("at most this many entries (default %d)", api.DefaultAuditLimit))
	return cmd
}

// errAuditTampered is what audit verify returns when either check fails.
var errAuditTampered = errors.New("AUDIT LOG TAMPERED")

func newAuditVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Verify the audit log: the SM3 chain here, and the chain and sealed head on the server",
		Long: `Fetch every entry and check the SM3 chain locally (consecutive sequence
numbers, each entry's prev = the hash of the one before, each hash
recomputed), then ask the server to verify too: it also checks the head
record sealed with a key derived from the master key, which detects entries
cut off the end. Exits 1 with a message naming the first bad entry if
either check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			entries, err := fetchAudit(ctx, c)
			var fe *operator.APIError
			if errors.As(err, &fe) && fe.Code == protocol.CodeAuditTampered {
				return fmt.Errorf("%w: the server cannot even list the entries: %s", errAuditTampered, fe.Message)
			}
			if err != nil {
				return err
			}
			last, localErr := audit.VerifyChain(entries)
			srv, serverErr := c.VerifyAudit(ctx)
			if srv == nil {
				srv = &operator.AuditVerification{}
			}
			var se *operator.APIError
			if serverErr != nil && !(errors.As(serverErr, &se) && se.Code == protocol.CodeAuditTampered) {
				return serverErr
			}
			switch {
			case localErr != nil:
				return fmt.Errorf("%w: local check of %d entries: %v", errAuditTampered, len(entries), localErr)
			case serverErr != nil:
				return fmt.Errorf("%w: the chain fetched here verifies (%d entries), but the server's check fails: %s", errAuditTampered, len(entries), se.Message)
			case !srv.Valid || srv.Entries != int64(len(entries)) || srv.Head != last:
				return fmt.Errorf("%w: the server verified %d entries ending in %s, but %d entries ending in %s were fetched", errAuditTampered, srv.Entries, srv.Head, len(entries), last)
			}
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]any{"valid": true, "entries": len(entries), "head": last})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Audit log OK: %d entries, chain verified here and on the server (sealed head).\nHead: %s\n", len(entries), last)
			return nil
		},
	}
}

// fetchAudit reads every entry, page by page.
func fetchAudit(ctx context.Context, c *opClient) ([]audit.Entry, error) {
	var all []audit.Entry
	after := int64(0)
	for {
		raw, err := c.call(ctx, "GET", fmt.Sprintf("/v1/admin/audit?after=%d&limit=%d", after, api.MaxAuditLimit), nil)
		if err != nil {
			return nil, err
		}
		var page operator.AuditPage
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("the server answered malformed JSON: %w", err)
		}
		all = append(all, page.Entries...)
		if page.NextAfter == 0 || len(page.Entries) == 0 {
			return all, nil
		}
		if page.NextAfter <= after {
			return nil, fmt.Errorf("the server's paging does not advance (after %d)", after)
		}
		after = page.NextAfter
	}
}
