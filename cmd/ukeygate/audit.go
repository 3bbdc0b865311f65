package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

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

  ukeygate audit list [--user ID] [--session ID] [--app ID] [--action sign] [--actor operator:NAME]
                      [--since TIME] [--until TIME] [--after SEQ] [--limit N]
  ukeygate audit export --out FILE [--limit N]
  ukeygate audit verify [SEGMENT-FILE...]
  ukeygate audit erase --user ID --pseudonym anon_… [--device ID]... SEGMENT-FILE...`,
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newAuditListCmd(), newAuditVerifyCmd(), newAuditExportCmd(), newAuditEraseCmd())
	return cmd
}

func newAuditListCmd() *cobra.Command {
	var user, sess, app, action, actor, since, until, onBehalfOf string
	var after int64
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--user ID] [--session ID] [--app ID] [--action ACTION] [--actor ACTOR] [--on-behalf-of ORG] [--since TIME] [--until TIME] [--after SEQ] [--limit N]",
		Short: "List audit entries, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if after < 0 || limit < 0 || limit > api.MaxAuditLimit {
				return usageErrorf("--after must be ≥ 0 and --limit within 1..%d", api.MaxAuditLimit)
			}
			params := map[string]string{"user": user, "session": sess, "app": app, "action": action, "actor": actor, "on_behalf_of": onBehalfOf}
			for name, v := range map[string]string{"since": since, "until": until} {
				if v == "" {
					continue
				}
				at, err := parseAuditTime(v)
				if err != nil {
					return usageErrorf("--%s: %v", name, err)
				}
				params[name] = at.Format(time.RFC3339)
			}
			if after > 0 {
				params["after"] = strconv.FormatInt(after, 10)
			}
			if limit > 0 {
				params["limit"] = strconv.Itoa(limit)
			}
			var out operator.AuditPage
			return opPrint(cmd, "GET", withQuery("/v1/admin/audit", params), nil, &out, func(tw *table) {
				row(tw, "SEQ", "TIME", "ACTION", "ACTOR", "OUTCOME", "USER", "CREDENTIAL", "APP", "SESSION", "DIGEST", "DETAIL")
				for _, e := range out.Entries {
					digest := e.Digest
					if len(digest) > 16 {
						digest = digest[:16] + "…"
					}
					who := e.UserID
					if e.OnBehalfOf != "" {
						who += " for " + e.OnBehalfOf // a staff member's use through a delegation
					}
					row(tw, e.Seq, e.Time, e.Action, e.Actor, e.Outcome, who, e.CredentialID, e.AppID, e.SessionID, digest, e.Detail)
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
	f.StringVar(&actor, "actor", "", "only this actor's entries (admin, operator:NAME, device:dev_…, app:app_…)")
	f.StringVar(&since, "since", "", "only entries written at or after this time (RFC 3339, or a date: 2026-01-02, UTC)")
	f.StringVar(&until, "until", "", "only entries written before this time (RFC 3339, or a date: 2026-01-02, UTC)")
	f.StringVar(&onBehalfOf, "on-behalf-of", "", "only the uses of this organisation's credentials by its staff (delegations)")
	f.Int64Var(&after, "after", 0, "only entries after this sequence number")
	f.IntVar(&limit, "limit", 0, fmt.Sprintf("at most this many entries (default %d)", api.DefaultAuditLimit))
	return cmd
}

// parseAuditTime reads --since/--until: an RFC 3339 time, or a date
// (midnight UTC).
func parseAuditTime(v string) (time.Time, error) {
	if at, err := time.Parse(time.RFC3339, v); err == nil {
		return at, nil
	}
	if at, err := time.Parse(time.DateOnly, v); err == nil {
		return at, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a date (2026-01-02)", v)
}

// errAuditTampered is what audit verify returns when either check fails.
var errAuditTampered = errors.New("AUDIT LOG TAMPERED")

func newAuditVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify [SEGMENT-FILE...]",
		Short: "Verify the audit log: the SM3 chain here, the sealed head on the server, and exported segments",
		Long: `Fetch every live entry and check the SM3 chain locally (consecutive sequence
numbers, each entry's prev = the hash of the one before, each hash
recomputed) from where the live log starts (entries before it were
exported and removed), then ask the server to verify too: it also checks
the head record sealed with a key derived from the master key, which
detects entries cut off the end, and the last exported segment's anchor
against the live log.

Given segment files (from ukeygate audit export), each is checked here
without any key: its entries chain from its anchor's prev to its head,
the segments follow each other, each anchor is one the gateway recorded
(same seal), and the chain runs on into the live log (the last removed
entry is the one the first live entry follows; entries in both agree).
Exits 1 with a message naming the first bad entry if any check fails.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, files []string) error {
			segs, err := readSegments(files)
			if err != nil {
				return err
			}
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			arch, err := c.AuditArchived(ctx)
			var fe *operator.APIError
			if errors.As(err, &fe) && fe.Code == protocol.CodeAuditTampered {
				return fmt.Errorf("%w: the server cannot read its archive records: %s", errAuditTampered, fe.Message)
			}
			if err != nil {
				return err
			}
			entries, err := fetchAudit(ctx, c)
			if errors.As(err, &fe) && fe.Code == protocol.CodeAuditTampered {
				return fmt.Errorf("%w: the server cannot even list the entries: %s", errAuditTampered, fe.Message)
			}
			if err != nil {
				return err
			}
			last, localErr := audit.VerifyChainFrom(arch.PrunedSeq+1, arch.PrunedHash, entries)
			lastSeq := arch.PrunedSeq + int64(len(entries))
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
				return fmt.Errorf("%w: local check of %d live entries: %v", errAuditTampered, len(entries), localErr)
			case serverErr != nil:
				return fmt.Errorf("%w: the chain fetched here verifies (%d live entries), but the server's check fails: %s", errAuditTampered, len(entries), se.Message)
			case !srv.Valid || srv.Entries != lastSeq || srv.Head != last:
				return fmt.Errorf("%w: the server verified entries up to %d ending in %s, but entries up to %d ending in %s were fetched", errAuditTampered, srv.Entries, srv.Head, lastSeq, last)
			}
			segNote, err := checkSegments(segs, arch, entries)
			if err != nil {
				return fmt.Errorf("%w: %v", errAuditTampered, err)
			}
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]any{"valid": true, "entries": lastSeq, "first_live": arch.PrunedSeq + 1, "head": last, "segments": len(segs), "anchors": len(arch.Anchors)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Audit log OK: %d entries (%d..%d live), chain verified here and on the server (sealed head).\nHead: %s\n%s", lastSeq, arch.PrunedSeq+1, lastSeq, last, segNote)
			return nil
		},
	}
}

func newAuditEraseCmd() *cobra.Command {
	var user, pseudonym string
	var devices []string
	cmd := &cobra.Command{
		Use:   "erase --user ID --pseudonym anon_… [--device ID]... SEGMENT-FILE...",
		Short: "Carry an account deletion into exported audit segments (offline, in place)",
		Long: `An account deletion pseudonymises the user's entries in the live audit log
only; segment files exported before still carry the user's id and device
ids. Give the user's id and the pseudonym the deletion answered (and
logged: "account deleted" with user and pseudonym), and every segment file
you keep: each entry about the user, by one of the user's devices, or
for the user as an organisation loses its salt and gets the pseudonym in
place of the ids,
exactly as in the live log, so the segments still verify against the
anchors the gateway recorded (ukeygate audit verify). Entries written
before format version 2 stay as they are (their hash covers the ids) and
are counted. A file is checked before and after and rewritten only when
something changed (a synced temporary file renamed over it); running it
again changes nothing. Needs no server; do it for every copy of the
segments (the offline one too).

The user's devices are those the segments show acting for the user
(every enrollment is such an entry, so given every segment from the
first, none is missed) and any named with --device: the deletion's answer
lists them (device_ids), and so does its log line.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if user == "" || pseudonym == "" {
				return usageErrorf("--user and --pseudonym are required")
			}
			segs, err := readSegments(files)
			if err != nil {
				return err
			}
			before := make([][]byte, len(segs))
			for i := range segs {
				if before[i], err = json.Marshal(segs[i]); err != nil {
					return err
				}
			}
			er, err := audit.PseudonymiseSegments(segs, user, devices, pseudonym)
			if errors.Is(err, audit.ErrInvalidEntry) {
				return usageErrorf("%v", err)
			}
			if errors.Is(err, audit.ErrTampered) {
				return fmt.Errorf("%w: %v (no file was changed)", errAuditTampered, err)
			}
			if err != nil {
				return err
			}
			var written []string
			for i := range segs {
				after, err := json.Marshal(segs[i])
				if err != nil {
					return err
				}
				if bytes.Equal(before[i], after) {
					continue
				}
				if err := writeSegment(files[i], &segs[i]); err != nil {
					return fmt.Errorf("rewriting %s (files before it in this list are already rewritten; run again): %w", files[i], err)
				}
				written = append(written, files[i])
			}
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]any{"erased": er.Erased, "legacy": er.Legacy, "pseudonym": er.Pseudonym, "files": len(files), "rewritten": written})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Erased %d entries of %s in %d of %d segment files (pseudonym %s).\n", er.Erased, user, len(written), len(files), er.Pseudonym)
			if er.Legacy > 0 {
				fmt.Fprintf(w, "%d entries written before format version 2 still name the user: their hash covers the ids.\n", er.Legacy)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "the deleted user's id (usr_…)")
	f.StringVar(&pseudonym, "pseudonym", "", "the pseudonym the deletion answered (anon_…)")
	f.StringSliceVar(&devices, "device", nil, "a device id of the user (dev_…), besides those the segments show; repeatable")
	return cmd
}

// readSegments reads segment files (strict JSON).
func readSegments(files []string) ([]audit.Segment, error) {
	var segs []audit.Segment
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var s audit.Segment
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("%w: %s is not a segment file: %v", errAuditTampered, f, err)
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// checkSegments checks segment files against the gateway's archive and
// the live entries, and says what it checked.
func checkSegments(segs []audit.Segment, arch *operator.AuditArchive, live []audit.Entry) (string, error) {
	if len(segs) == 0 {
		if arch.PrunedSeq > 0 {
			return fmt.Sprintf("Entries 1..%d were exported and left the live store: give their segment files to check them.\n", arch.PrunedSeq), nil
		}
		return "", nil
	}
	known := map[int64]audit.Anchor{}
	for _, a := range arch.Anchors {
		known[a.LastSeq] = a
	}
	// Each anchor first: a file that is no recorded segment is named as
	// such, not as a break in the chain.
	for _, s := range segs {
		a := s.Anchor
		k, ok := known[a.LastSeq]
		if !ok || k.Seal != a.Seal || k.FirstSeq != a.FirstSeq || k.Prev != a.Prev || k.Head != a.Head {
			return "", fmt.Errorf("segment %d..%d: its anchor is not one the gateway recorded", a.FirstSeq, a.LastSeq)
		}
	}
	anchors, err := audit.VerifySegments(segs)
	if err != nil {
		return "", err
	}
	first, end := anchors[0].FirstSeq, anchors[len(anchors)-1].LastSeq
	// Into the live log: the segments must reach the last removed entry
	// and hold it with the hash the live log follows; entries in both
	// must agree.
	if arch.PrunedSeq > 0 {
		if end < arch.PrunedSeq || first > arch.PrunedSeq {
			return "", fmt.Errorf("the segments hold %d..%d but entries up to %d left the live store: a segment is missing", first, end, arch.PrunedSeq)
		}
	}
	bySeq := map[int64]string{}
	for _, s := range segs {
		for _, e := range s.Entries {
			bySeq[e.Seq] = e.Hash
		}
	}
	if arch.PrunedSeq > 0 && bySeq[arch.PrunedSeq] != arch.PrunedHash {
		return "", fmt.Errorf("entry %d in the segments is not the one the live log follows", arch.PrunedSeq)
	}
	for _, e := range live {
		if h, ok := bySeq[e.Seq]; ok && h != e.Hash {
			return "", fmt.Errorf("entry %d differs between its segment and the live log", e.Seq)
		}
	}
	note := fmt.Sprintf("Segments OK: %d files, entries %d..%d, each anchor recorded by the gateway, the chain continues into the live log.\n", len(segs), first, end)
	if first > 1 {
		note += fmt.Sprintf("(entries 1..%d: no segment given)\n", first-1)
	}
	return note, nil
}

func newAuditExportCmd() *cobra.Command {
	var out string
	var limit int
	cmd := &cobra.Command{
		Use:   "export --out FILE [--limit N]",
		Short: "Write the next sealed audit segment to a file, then record it so its entries may leave the live store",
		Long: `Fetch the entries after the last exported segment (at most --limit) with their
anchor (first and last seq, the hash going in and coming out, sealed with
HMAC-SM3 under a key derived from the master key), check their chain here,
write them to --out (0600, synced, renamed into place; an existing file is
never overwritten), and only then tell the gateway the segment is stored.
From then on its entries leave the live store once older than
audit.retention. Keep segment files safe: they are the only copy of the
entries that left. Exits 0 without writing when there is nothing new.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErrorf("--out FILE is required")
			}
			if limit < 1 || limit > audit.MaxSegmentEntries {
				return usageErrorf("--limit must be within 1..%d", audit.MaxSegmentEntries)
			}
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("%s exists: refusing to overwrite a segment", out)
			}
			c, err := newOpClient(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			seg, err := c.AuditSegment(ctx, limit)
			var fe *operator.APIError
			if errors.As(err, &fe) && fe.Code == protocol.CodeAuditNothingToExport {
				fmt.Fprintln(cmd.OutOrStdout(), "Nothing to export: every entry is in a segment already.")
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := audit.VerifySegments([]audit.Segment{*seg}); err != nil {
				return fmt.Errorf("%w: the segment the server sent does not verify: %v", errAuditTampered, err)
			}
			if err := writeSegment(out, seg); err != nil {
				return err
			}
			arch, err := c.ArchiveAudit(ctx, seg.Anchor)
			if err != nil {
				arch, err = settleExport(ctx, c, out, seg.Anchor, err)
				if err != nil {
					return err
				}
			}
			a := seg.Anchor
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]any{"file": out, "anchor": a, "entries": len(seg.Entries), "pruned_seq": arch.PrunedSeq})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Segment %d..%d (%d entries) written to %s and recorded.\nHead: %s\nIts entries leave the live store once older than audit.retention.\n", a.FirstSeq, a.LastSeq, len(seg.Entries), out, a.Head)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "segment file to write (must not exist)")
	cmd.Flags().IntVar(&limit, "limit", api.DefaultSegmentEntries, "at most this many entries in the segment")
	return cmd
}

// settleExport decides what a failed recording of anchor a means: the
// request may have been recorded with its answer lost (then the file is a
// segment like any other), or refused (then the file is no segment: it
// is removed, and its entries stay live for the next export). When the
// gateway cannot say, the file stays and the error says so.
func settleExport(ctx context.Context, c *opClient, out string, a audit.Anchor, recErr error) (*operator.AuditArchive, error) {
	arch, err := c.AuditArchived(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s is written, but whether the gateway recorded it is unknown (%v; then %v): keep the file and run audit verify with it", out, recErr, err)
	}
	for _, k := range arch.Anchors {
		if k.LastSeq == a.LastSeq && k.Seal == a.Seal {
			return arch, nil
		}
	}
	if err := os.Remove(out); err != nil {
		return nil, fmt.Errorf("the gateway did not record the segment (%v), and %s could not be removed: delete it, it is no segment: %w", recErr, out, err)
	}
	return nil, fmt.Errorf("the gateway did not record the segment, so %s was removed and its entries stay live (run export again): %w", out, recErr)
}

// writeSegment writes seg to out: a 0600 temporary file, synced, renamed
// into place, the directory synced.
func writeSegment(out string, seg *audit.Segment) error {
	b, err := json.MarshalIndent(seg, "", " ")
	if err != nil {
		return err
	}
	tmp := out + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(out))
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
