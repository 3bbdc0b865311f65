package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
)

// The phone's side of a scan session on the command line: scan a QR code
// (its text or an image of it), see what is asked, then confirm with the
// matching code and the PIN, or reject.

// addPhoneSessionCmds adds scan, confirm and reject to the phone command
// of root.
func addPhoneSessionCmds(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == "phone" {
			c.AddCommand(newPhoneScanCmd(), newPhoneConfirmCmd(), newPhoneRejectCmd())
			return
		}
	}
	panic("ukeygate: the phone command must be added before its session commands")
}

// maxImageFile bounds a QR image read from disk.
const maxImageFile = 16 << 20

// scanPayload is the QR payload of arg: arg itself when it is a URL (the
// text of a QR code), else the text of the QR code in the image file arg
// names.
func scanPayload(arg string) (string, error) {
	if strings.Contains(arg, "://") {
		return arg, nil
	}
	fi, err := os.Stat(arg)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s (give a QR image file or the payload URL https://…/q/…)", errFileNotFound, arg)
	}
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a file (give a QR image file or the payload URL https://…/q/…)", arg)
	}
	f, err := os.Open(arg)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxImageFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxImageFile {
		return "", fmt.Errorf("%s is larger than %d bytes", arg, maxImageFile)
	}
	payload, err := phone.DecodeQR(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", arg, err)
	}
	return payload, nil
}

func newPhoneScanCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "scan PAYLOAD_OR_IMAGE",
		Short: "Scan a session's QR code (its text, or a PNG/JPEG image of it) and show what is asked",
		Long: `Scan a session's QR code, as the phone's camera would: give the payload text
(https://…/q/…) or a PNG or JPEG file showing the code (the portal's qr.png,
a screenshot). The session is then bound to this device. The command shows
what a real app shows before confirming — the portal's registered name, the
page origin, the desktop's IP and browser, the operation, the documents, the
three matching codes and the credentials that fit — and remembers the
session so that 'phone confirm' and 'phone reject' default to it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			payload, err := scanPayload(args[0])
			if err != nil {
				return err
			}
			c, err := phoneClient(cmd)
			if err != nil {
				return err
			}
			res, err := c.Scan(cmd.Context(), payload)
			if err != nil {
				return err
			}
			path, err := statePath(cmd)
			if err != nil {
				return err
			}
			c.State.Remember(res)
			if err := c.State.Save(path); err != nil {
				return fmt.Errorf("scanned session %s, but saving %s failed: %w", res.Session.ID, path, err)
			}
			if wantJSON(cmd) {
				return printJSON(cmd, res)
			}
			return printScan(cmd.OutOrStdout(), res, time.Now())
		},
	}
}

// kindText says what the session asks in words.
func kindText(s *phone.ScannedSession) string {
	switch s.Kind {
	case "login":
		return "LOG IN to this site with your certificate"
	case "sign":
		n := len(s.Documents)
		what := "1 document"
		if n != 1 {
			what = fmt.Sprintf("%d documents", n)
		}
		return fmt.Sprintf("SIGN %s (%s)", what, s.Format)
	case "seal":
		n := len(s.Documents)
		what := "1 PDF"
		if n != 1 {
			what = fmt.Sprintf("%d PDFs", n)
		}
		return fmt.Sprintf("SEAL %s (draw your seal and sign)", what)
	case "certificate":
		return "HAND OVER the certificates you choose (no key is used, no PIN)"
	case "decrypt":
		if s.Ciphertext != nil {
			what := "DECRYPT"
			if s.Ciphertext.ReturnKey {
				what = "OPEN the envelope key of"
			}
			return fmt.Sprintf("%s a %s ciphertext of %d bytes", what, s.Ciphertext.Format, s.Ciphertext.Size)
		}
		return "DECRYPT"
	}
	return strings.ToUpper(string(s.Kind))
}

// printScan shows a scan the way a phone app would before the user
// confirms.
func printScan(w io.Writer, r *phone.ScanResult, now time.Time) error {
	s := &r.Session
	tw := newTable(w)
	left := s.ExpiresAt.Sub(now).Round(time.Second)
	fmt.Fprintf(tw, "Session %s — expires in %s\n\n", s.ID, left)
	row(tw, "  App:", fmt.Sprintf("%s (%s)", s.App.Name, s.App.ID))
	row(tw, "  Page:", s.Origin)
	desk := s.Desktop.IP
	if s.Desktop.UserAgent != "" {
		desk += " — " + s.Desktop.UserAgent
	}
	row(tw, "  Desktop:", desk)
	row(tw, "  Asks you to:", kindText(s))
	if s.Display.Title != "" {
		row(tw, "  Title:", s.Display.Title)
	}
	if s.Display.Summary != "" {
		row(tw, "  Summary:", s.Display.Summary)
	}
	if s.Issuer != "" || s.Alg != "" {
		row(tw, "  Certificate:", strings.TrimSpace(s.Issuer+" "+s.Alg))
	}
	if c := s.Ciphertext; c != nil {
		row(tw, "  Ciphertext SM3:", c.SM3)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Documents) > 0 {
		fmt.Fprintln(w, "\n  Documents:")
		tw = newTable(w)
		for i, d := range s.Documents {
			size := "(digest only)"
			if d.Size != nil {
				size = fmt.Sprintf("%d bytes", *d.Size)
			}
			row(tw, fmt.Sprintf("    %d.", i+1), d.Name, size, d.DigestAlg+" "+d.Digest)
			if d.Pages > 0 {
				row(tw, "", fmt.Sprintf("%d pages", d.Pages), placementText(d), "")
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		printFileText(w, s.Documents)
	}
	if s.Kind == "seal" {
		if s.Seal != "" {
			fmt.Fprintf(w, "\n  Seal asked for: %s\n", s.Seal)
		}
		if len(r.Seals) == 0 {
			fmt.Fprintln(w, "\nYou have no seal this session may use: reject it ('ukeygate phone reject').")
		} else {
			fmt.Fprintln(w, "\nYour seals:")
			tw = newTable(w)
			row(tw, "  ID", "NAME", "KIND", "SIZE MM")
			for _, sl := range r.Seals {
				row(tw, "  "+sl.ID, sl.Name, sl.Kind, formatSize(sl.WidthMM, sl.HeightMM))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(w, "\nWhich code does the desktop page show?   %s\n", "[ "+strings.Join(s.CodeChoices, " ]   [ ")+" ]")
	fmt.Fprintln(w, "Only confirm if you started this on that page and the code matches.")
	if len(r.Credentials) == 0 {
		fmt.Fprintln(w, "\nNone of your credentials fits this request: reject it ('ukeygate phone reject').")
		return nil
	}
	fmt.Fprintln(w, "\nYour credentials that fit:")
	tw = newTable(w)
	row(tw, "  ID", "ISSUER", "ALG", "PURPOSE", "SERIAL", "NOT AFTER", "RENEWAL")
	for _, c := range r.Credentials {
		row(tw, "  "+c.ID, c.Issuer, c.Alg, c.Purpose, c.Serial, c.NotAfter, renewalLink(&c))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	cred := ""
	switch {
	case s.Kind == "certificate" && len(r.Credentials) > 1:
		cred = " --credential ID [--credential ID…]"
	case len(r.Credentials) > 1:
		cred = " --credential ID"
	}
	if s.Kind == "seal" && s.Seal == "" && len(r.Seals) > 1 {
		cred += " --seal ID"
	}
	fmt.Fprintf(w, "\nConfirm: ukeygate phone confirm --code NN%s\nReject:  ukeygate phone reject\n", cred)
	return nil
}

// sessionTarget resolves --session (default: the last scan) and returns
// the state's last scan when it is that session.
func sessionTarget(cmd *cobra.Command, st *phone.State) (string, *phone.LastScan, error) {
	id, _ := cmd.Flags().GetString("session")
	ls := st.LastScan
	if id == "" {
		if ls == nil || ls.SessionID == "" {
			return "", nil, usageErrorf("no scanned session: run 'ukeygate phone scan' first or give --session")
		}
		return ls.SessionID, ls, nil
	}
	if ls != nil && ls.SessionID == id {
		return id, ls, nil
	}
	return id, nil, nil
}

// forget clears the state's last scan once its session has ended.
func forget(cmd *cobra.Command, c *phone.Client, id string) {
	if c.State.LastScan == nil || c.State.LastScan.SessionID != id {
		return
	}
	c.State.LastScan = nil
	if path, err := statePath(cmd); err == nil {
		if err := c.State.Save(path); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: could not update %s: %v\n", path, err)
		}
	}
}

// printFileText prints what the gateway read in a seal session's PDFs
// (file_text): the first lines of page 1 and the text nearest to each
// place the seal lands, a line an annotation draws (a stamp) marked
// "[annotation]".
func printFileText(w io.Writer, docs []phone.ScannedDocument) {
	line := func(lines []string, annots []int, i int) string {
		if slices.Contains(annots, i) {
			return "[annotation] " + lines[i]
		}
		return lines[i]
	}
	head := false
	for i, d := range docs {
		ft := d.FileText
		if ft == nil {
			continue
		}
		if !head {
			fmt.Fprintln(w, "\n  Read from the file by the gateway (not the portal's words):")
			head = true
		}
		fmt.Fprintf(w, "    %d. %s — %d pages, %d seals\n", i+1, d.Name, ft.Pages, ft.Seals)
		if ft.ViewerForms {
			fmt.Fprintln(w, "       form fields: the viewer draws them from their values and the gateway cannot be sure how some show; open the file to check")
		}
		if ft.First.NoText {
			fmt.Fprintln(w, "       page 1: no readable text")
		} else {
			var first []string
			for i := range ft.First.Lines {
				first = append(first, line(ft.First.Lines, ft.First.Annotations, i))
			}
			fmt.Fprintf(w, "       page 1 begins: %s\n", strings.Join(first, " / "))
		}
		for k, sp := range ft.Spots {
			switch {
			case sp.NotFound:
				kw := ""
				if sp.Placement < len(d.Placements) {
					kw = d.Placements[sp.Placement].Keyword
				}
				fmt.Fprintf(w, "       seal %d: %q is not in the file: sealing will fail\n", k+1, kw)
			case sp.NoText || len(sp.Lines) == 0:
				fmt.Fprintf(w, "       seal %d, page %d: no readable text on the page\n", k+1, sp.Page)
			default:
				far := ""
				if sp.DistanceMM > 10 {
					far = fmt.Sprintf(" (%s mm away)", trimFloat(sp.DistanceMM))
				}
				fmt.Fprintf(w, "       seal %d, page %d, nearest text%s: %s\n", k+1, sp.Page, far, line(sp.Lines, sp.Annotations, min(max(sp.Nearest, 0), len(sp.Lines)-1)))
			}
		}
		if ft.SpotsLeftOut > 0 {
			fmt.Fprintf(w, "       (%d more not listed)\n", ft.SpotsLeftOut)
		}
	}
}

// placementText says where the seal goes on a document.
func placementText(d phone.ScannedDocument) string {
	var parts []string
	for _, p := range d.Placements {
		if p.Keyword != "" {
			parts = append(parts, fmt.Sprintf("at every %q", p.Keyword))
		} else {
			parts = append(parts, fmt.Sprintf("page %d at %s,%s mm", p.Page, trimFloat(p.XMM), trimFloat(p.YMM)))
		}
	}
	if d.Straddle != nil {
		parts = append(parts, fmt.Sprintf("across the page edges at %s mm", trimFloat(d.Straddle.YMM)))
	}
	return "seal " + strings.Join(parts, "; ")
}

func newPhoneConfirmCmd() *cobra.Command {
	var code, cred, sealID string
	var creds []string
	cmd := &cobra.Command{
		Use:   "confirm --code NN [--session ID] [--credential ID…] [--seal ID] [--pin PIN | --pin-stdin]",
		Short: "Confirm the scanned session with the matching code and your PIN",
		Long: `Confirm a scanned session (default: the last one 'phone scan' showed) with the
matching code the desktop page shows, the credential to use (default: the
only one that fits), for a seal session the seal (default: the portal's, or
your only one) and your PIN. The gateway then logs in, signs, decrypts or
seals with that credential's key and pushes the result to the page.

A certificate session hands the certificates of the credentials you name
(repeat --credential; default: the only one that fits) to the portal, with
your user id: no key is used and no PIN is asked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := phoneClient(cmd)
			if err != nil {
				return err
			}
			id, ls, err := sessionTarget(cmd, c.State)
			if err != nil {
				return err
			}
			if ls != nil && ls.Kind == "certificate" || len(creds) > 1 {
				return handOver(cmd, c, id, ls, creds, strings.TrimSpace(code))
			}
			if len(creds) == 1 {
				cred = creds[0]
			}
			if cred == "" {
				switch {
				case ls == nil:
					return usageErrorf("give --credential (the session was not scanned by 'phone scan' with this state file)")
				case len(ls.Credentials) == 0:
					return errors.New("none of your credentials fits this session: reject it with 'ukeygate phone reject'")
				case len(ls.Credentials) > 1:
					return usageErrorf("several credentials fit (%s): choose one with --credential", strings.Join(ls.Credentials, ", "))
				}
				cred = ls.Credentials[0]
			}
			if sealID == "" && ls != nil && ls.Kind == "seal" && ls.Seal == "" {
				switch len(ls.Seals) {
				case 0:
					return errors.New("you have no seal this session may use: reject it with 'ukeygate phone reject'")
				case 1:
					sealID = ls.Seals[0]
				default:
					return usageErrorf("several seals fit (%s): choose one with --seal", strings.Join(ls.Seals, ", "))
				}
			}
			// A wrong code fails the session on the server: check it here,
			// before the PIN is even asked.
			code = strings.TrimSpace(code)
			if err := checkMatchingCode(code, ls); err != nil {
				return err
			}
			pin, err := (&pinReader{cmd: cmd}).read("PIN: ")
			if err != nil {
				return err
			}
			if err := checkPINForm(pin); err != nil {
				return err
			}
			state, err := c.ConfirmSeal(cmd.Context(), id, cred, sealID, pin, code)
			if err != nil {
				if ae := (*phone.APIError)(nil); errors.As(err, &ae) {
					switch ae.Code {
					case protocol.CodeWrongCode, protocol.CodeSessionExpired, protocol.CodeSessionClosed,
						protocol.CodeSessionNotFound, protocol.CodeOperationFailed:
						forget(cmd, c, id) // the session has ended
					}
				}
				return err
			}
			forget(cmd, c, id)
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]string{"id": id, "state": string(state)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Session %s: %s. The desktop page has the result.\n", id, state)
			return nil
		},
	}
	cmd.Flags().String("session", "", "the session id (default: the last scanned)")
	cmd.Flags().StringVar(&code, "code", "", "the matching code the desktop page shows (required)")
	cmd.Flags().StringArrayVar(&creds, "credential", nil, "the credential to use (default: the only one that fits); certificate sessions: repeat to hand over several")
	cmd.Flags().StringVar(&sealID, "seal", "", "seal sessions: the seal to draw (default: the portal's, or your only one)")
	_ = cmd.MarkFlagRequired("code")
	return cmd
}

// handOver confirms a certificate session with the chosen credentials
// (default: the only one that fits), without a PIN.
func handOver(cmd *cobra.Command, c *phone.Client, id string, ls *phone.LastScan, creds []string, code string) error {
	if len(creds) == 0 {
		switch {
		case ls == nil:
			return usageErrorf("give --credential (the session was not scanned by 'phone scan' with this state file)")
		case len(ls.Credentials) == 0:
			return errors.New("you have no certificate this session may take: reject it with 'ukeygate phone reject'")
		case len(ls.Credentials) > 1:
			return usageErrorf("several certificates fit (%s): choose with --credential (repeat it to hand over several)", strings.Join(ls.Credentials, ", "))
		}
		creds = ls.Credentials
	}
	if err := checkMatchingCode(code, ls); err != nil {
		return err
	}
	state, err := c.HandOver(cmd.Context(), id, creds, code)
	if err != nil {
		if ae := (*phone.APIError)(nil); errors.As(err, &ae) {
			switch ae.Code {
			case protocol.CodeWrongCode, protocol.CodeSessionExpired, protocol.CodeSessionClosed,
				protocol.CodeSessionNotFound, protocol.CodeOperationFailed:
				forget(cmd, c, id)
			}
		}
		return err
	}
	forget(cmd, c, id)
	if wantJSON(cmd) {
		return printJSON(cmd, map[string]string{"id": id, "state": string(state)})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Session %s: %s. The portal has your %d certificate(s).\n", id, state, len(creds))
	return nil
}

// checkMatchingCode refuses a --code that is not one of the three codes
// the scan offered (ls, when the session was scanned with this state
// file), or that is not a two-digit code at all.
func checkMatchingCode(code string, ls *phone.LastScan) error {
	if ls != nil && len(ls.CodeChoices) > 0 {
		if !slices.Contains(ls.CodeChoices, code) {
			return usageErrorf("--code %s is not one of the three codes the phone offered (%s): read the code on the desktop page again; nothing was sent",
				code, strings.Join(ls.CodeChoices, ", "))
		}
		return nil
	}
	if len(code) != 2 || code[0] < '0' || code[0] > '9' || code[1] < '0' || code[1] > '9' {
		return usageErrorf("--code %q is not a matching code: it is the two digits the desktop page shows", code)
	}
	return nil
}

func newPhoneRejectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reject [--session ID]",
		Short: "Reject the scanned session (nothing is signed or decrypted)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := phoneClient(cmd)
			if err != nil {
				return err
			}
			id, _, err := sessionTarget(cmd, c.State)
			if err != nil {
				return err
			}
			state, err := c.Reject(cmd.Context(), id)
			if err != nil {
				return err
			}
			forget(cmd, c, id)
			if wantJSON(cmd) {
				return printJSON(cmd, map[string]string{"id": id, "state": string(state)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Session %s: %s.\n", id, state)
			return nil
		},
	}
	cmd.Flags().String("session", "", "the session id (default: the last scanned)")
	return cmd
}
