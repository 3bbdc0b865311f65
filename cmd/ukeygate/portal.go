package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	qrcode "github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/portal"
)

// The portal side of a scan session on the command line, built only on
// package portal (what an integrator's backend does): create a session,
// show its QR code, wait on the websocket, and verify the result.

// envAppKey is the environment variable of the portal's app key.
const envAppKey = "UKEYGATE_APP_KEY"

// portalOpts are the flags every portal subcommand shares.
type portalOpts struct {
	appKey, origin, issuer, alg, user, png, title, summary string
	ttl                                                    time.Duration
	invertQR                                               bool
}

func newPortalCmd() *cobra.Command {
	o := &portalOpts{}
	cmd := &cobra.Command{
		Use:   "portal",
		Short: "A demo portal backend: QR login, signing, sealing and decryption through the gateway",
		Long: `A demo portal backend on the command line, built on the portal package only.
Each subcommand creates a scan session with the portal's app key, prints the
QR code in the terminal (and writes it as a PNG), waits on the websocket for
the phone to confirm, and verifies the result: locally and with the
gateway's POST /v1/verify.

  ukeygate portal login   --app-key KEY --origin https://bid.example.cn
  ukeygate portal sign    --app-key KEY --file bid.pdf --file annex.pdf --format cms-detached
  ukeygate portal encrypt --app-key KEY --user USER_ID --in bid.txt   (→ bid.txt.p7m)
  ukeygate portal decrypt --app-key KEY --in bid.txt.p7m --ciphertext-format cms
  ukeygate portal seal    --app-key KEY --file bid.pdf --page 1 --x 150 --y 240
  ukeygate portal certificate --app-key KEY --out certs/   (the user picks; no PIN)

In another terminal, the phone: 'ukeygate phone scan FILE.png' (or the
payload), then 'ukeygate phone confirm --code NN'.`,
	}
	addServerFlag(cmd)
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.appKey, "app-key", "", "the portal's app key (env "+envAppKey+"; from 'ukeygate app add')")
	pf.StringVar(&o.origin, "origin", "", "the page origin shown on the phone (default: the app's only origin)")
	pf.StringVar(&o.issuer, "issuer", "", "only credentials of this issuer")
	pf.StringVar(&o.alg, "alg", "", "only SM2 or RSA credentials")
	pf.StringVar(&o.user, "user", "", "only this user may confirm")
	pf.StringVar(&o.png, "png", "", "write the QR code PNG here (default: a file in the temporary directory)")
	pf.StringVar(&o.title, "title", "", "the title the phone shows")
	pf.StringVar(&o.summary, "summary", "", "the summary the phone shows")
	pf.DurationVar(&o.ttl, "ttl", 0, "session lifetime, e.g. 120s (default: the gateway's)")
	pf.BoolVar(&o.invertQR, "qr-invert", false, "draw the terminal QR code for a light background")
	cmd.AddCommand(newPortalLoginCmd(o), newPortalSignCmd(o), newPortalDecryptCmd(o), newPortalEncryptCmd(o), newPortalSealCmd(o), newPortalCertificateCmd(o))
	return cmd
}

// client builds the portal client from the flags.
func (o *portalOpts) client(cmd *cobra.Command) (*portal.Client, error) {
	base, err := serverURL(cmd)
	if err != nil {
		return nil, err
	}
	key := o.appKey
	if key == "" {
		key = os.Getenv(envAppKey)
	}
	if key == "" {
		return nil, usageErrorf("no app key: give --app-key or set %s", envAppKey)
	}
	return &portal.Client{BaseURL: base, AppKey: key, Origin: o.origin, HTTP: &http.Client{Timeout: clientTimeout}}, nil
}

// request fills the fields every kind shares.
func (o *portalOpts) request(kind portal.Kind, title, summary string) (portal.SessionRequest, error) {
	alg := strings.ToUpper(o.alg)
	if alg != "" && alg != "SM2" && alg != "RSA" {
		return portal.SessionRequest{}, usageErrorf("--alg must be SM2 or RSA")
	}
	if o.ttl < 0 || o.ttl%time.Second != 0 {
		return portal.SessionRequest{}, usageErrorf("--ttl must be whole seconds")
	}
	if o.title != "" {
		title = o.title
	}
	if o.summary != "" {
		summary = o.summary
	}
	return portal.SessionRequest{
		Kind: kind, Issuer: o.issuer, Alg: alg, User: o.user, Origin: o.origin,
		Display:    portal.Display{Title: title, Summary: summary},
		TTLSeconds: int(o.ttl / time.Second),
	}, nil
}

// runSession creates the session, shows its QR code and waits for its
// final event. A final state other than completed is an error; Ctrl-C
// cancels the session.
func (o *portalOpts) runSession(cmd *cobra.Command, c *portal.Client, req portal.SessionRequest) (*portal.Session, *portal.Event, error) {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	s, err := c.CreateSession(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	png, err := c.QRPNG(ctx, s, 512)
	if err != nil {
		return nil, nil, err
	}
	path := o.png
	if path == "" {
		path = filepath.Join(os.TempDir(), "ukeygate-"+s.ID+".png")
	}
	if err := writeOutput(path, png, 0o644); err != nil {
		return nil, nil, err
	}
	qr, err := terminalQR(s.QR.Payload, o.invertQR)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "%s\n", qr)
	fmt.Fprintf(out, "Session:  %s (%s)\n", s.ID, req.Kind)
	fmt.Fprintf(out, "Payload:  %s\n", s.QR.Payload)
	fmt.Fprintf(out, "QR image: %s\n", path)
	fmt.Fprintf(out, "Code:     %s   (the phone asks which code this page shows)\n", s.Code)
	fmt.Fprintf(out, "\nOn the phone:  ukeygate phone scan %s\n               ukeygate phone confirm --code %s\n", path, s.Code)
	fmt.Fprintf(out, "\nWaiting for the phone (expires %s; Ctrl-C cancels)…\n", s.ExpiresAt.Local().Format("15:04:05"))

	wctx, cancel := context.WithDeadline(ctx, s.ExpiresAt.Add(30*time.Second))
	defer cancel()
	events, err := c.Watch(wctx, s)
	if err != nil {
		return nil, nil, err
	}
	var final *portal.Event
	for ev := range events {
		if ev.Final() {
			e := ev
			final = &e
			break
		}
		if ev.State == portal.StateScanned {
			fmt.Fprintln(out, "Scanned by the phone; waiting for the user to confirm…")
		}
	}
	if final == nil {
		if ctx.Err() != nil {
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer ccancel()
			if err := c.CancelSession(cctx, s.ID); err == nil {
				fmt.Fprintln(out, "Cancelled.")
			}
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("%w: session %s", portal.ErrWatchEnded, s.ID)
	}
	if final.State != portal.StateCompleted {
		why := ""
		if final.Reason != "" {
			why = " (" + final.Reason + ")"
		}
		return nil, nil, fmt.Errorf("session %s ended %s%s", s.ID, final.State, why)
	}
	fmt.Fprintln(out, "Completed.")
	return s, final, nil
}

// terminalQR draws the QR code of payload with Unicode half blocks, two
// modules per character cell. By default the light modules are drawn (the
// terminal's background shows through as the dark ones), which reads
// right on a dark terminal; invert draws the dark modules instead.
func terminalQR(payload string, invert bool) (string, error) {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	bm := q.Bitmap() // with its quiet zone
	ink := func(y, x int) bool {
		if y >= len(bm) {
			return !invert // below the last row: light quiet zone
		}
		return bm[y][x] == invert
	}
	var b strings.Builder
	for y := 0; y < len(bm); y += 2 {
		for x := range bm[y] {
			top, bottom := ink(y, x), ink(y+1, x)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// issuerRoots fetches the registered issuers' certificates (GET
// /v1/issuers, public) as the trust anchors of a local login check.
func issuerRoots(ctx context.Context, base string) ([]*smx509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/issuers", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: clientTimeout}).Do(req)
	if err != nil {
		return nil, err // report says it in words
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, portal.ReadAPIError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	var list struct {
		Issuers []struct {
			CertificatePEM string `json:"certificate_pem"`
		} `json:"issuers"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("the server answered malformed JSON: %w", err)
	}
	var roots []*smx509.Certificate
	for _, iss := range list.Issuers {
		certs, err := gmcrypto.ParseCertificatesPEM([]byte(iss.CertificatePEM))
		if err != nil {
			return nil, err
		}
		roots = append(roots, certs...)
	}
	return roots, nil
}

// verdict prints the gateway's answer to POST /v1/verify and returns an
// error unless it is valid.
func verdict(w io.Writer, what string, v *portal.VerifyResponse) error {
	if !v.Valid {
		fmt.Fprintf(w, "  %-28s INVALID (%s)\n", "gateway /v1/verify:", v.Reason)
		return fmt.Errorf("the gateway says the %s is not valid: %s", what, v.Reason)
	}
	s := v.Signer
	fmt.Fprintf(w, "  %-28s valid — %s, serial %s, issuer %s, until %s\n", "gateway /v1/verify:",
		s.Subject, s.Serial, s.Issuer, s.NotAfter.Local().Format("2006-01-02"))
	return nil
}

func newPortalCertificateCmd(o *portalOpts) *cobra.Command {
	var outDir string
	cmd := &cobra.Command{
		Use:   "certificate [--out DIR]",
		Short: "QR certificate handover: the phone user picks certificates to give the portal (no PIN)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			req, err := o.request(portal.KindCertificate, "提供证书", "Hand over your certificates")
			if err != nil {
				return err
			}
			_, final, err := o.runSession(cmd, c, req)
			if err != nil {
				return err
			}
			res, err := final.Certificate()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "\nUser %s handed over %d certificate(s):\n", res.User, len(res.Certificates))
			for _, hc := range res.Certificates {
				certs, err := gmcrypto.ParseCertificatesPEM([]byte(hc.CertificatePEM))
				if err != nil || len(certs) == 0 {
					return fmt.Errorf("%w: certificate of %s: %v", portal.ErrProtocol, hc.Credential, err)
				}
				fmt.Fprintf(out, "  %s  %s %s %s  %s (serial %x)\n", hc.Credential, hc.Issuer, hc.Alg, hc.Purpose, certs[0].Subject.String(), certs[0].SerialNumber.Bytes())
				if outDir != "" {
					f := filepath.Join(outDir, hc.Credential+".pem")
					if err := writeOutput(f, []byte(hc.CertificatePEM), 0o644); err != nil {
						return err
					}
					fmt.Fprintf(out, "    → %s\n", f)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&outDir, "out", "", "write each certificate (PEM, with its chain) to DIR/CREDENTIAL.pem")
	return cmd
}

func newPortalLoginCmd(o *portalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "login",
		Short: "QR login: the phone signs a challenge with the user's certificate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			req, err := o.request(portal.KindLogin, "Log in", "Log in with your certificate")
			if err != nil {
				return err
			}
			roots, err := issuerRoots(cmd.Context(), strings.TrimRight(c.BaseURL, "/"))
			if err != nil {
				return err
			}
			s, final, err := o.runSession(cmd, c, req)
			if err != nil {
				return err
			}
			res, err := final.Login()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			v, err := portal.VerifyLogin(res, portal.LoginExpect{Session: s.ID, Origin: o.origin, Roots: roots})
			if err != nil {
				fmt.Fprintf(out, "  local check (portal.VerifyLogin): FAILED: %v\n", err)
				return err
			}
			fmt.Fprintf(out, "\nLogged in: user %s with credential %s\n", res.User, res.Credential)
			fmt.Fprintf(out, "  certificate:  %s (serial %x)\n", v.Certificate.Subject.String(), v.Certificate.SerialNumber.Bytes())
			fmt.Fprintf(out, "  challenge:    %s\n", res.Challenge)
			fmt.Fprintf(out, "  signature:    %s…\n", hex.EncodeToString(res.Signature[:min(16, len(res.Signature))]))
			fmt.Fprintf(out, "  %-28s valid (challenge, chain to the gateway's issuers, signature)\n", "local check (VerifyLogin):")
			gv, err := c.Verify(cmd.Context(), portal.VerifyRequest{Data: res.Challenge, Signature: res.Signature, CertificatePEM: res.CertificatePEM})
			if err != nil {
				return err
			}
			return verdict(out, "login signature", gv)
		},
	}
}

func newPortalSignCmd(o *portalOpts) *cobra.Command {
	var files []string
	var format string
	var byDigest bool
	cmd := &cobra.Command{
		Use:   "sign --file FILE [--file FILE…] [--format raw|cms-detached|cms-attached] [--digest]",
		Short: "QR signing: the phone signs one or more files; writes FILE.sig or FILE.p7s next to each",
		Long: `QR signing: the phone signs one or more files; writes FILE.sig or FILE.p7s next to each.

--digest sends each file's digest instead of its bytes, for files of any
size (the gateway caps the data of a session, not digests): the result is a
detached CMS whose messageDigest is that digest. The digest depends on the
key's algorithm (SM3 for SM2, SHA-256 for RSA), so --digest asks for
--format cms-detached (the default with --digest) and one --alg (default
SM2). A raw SM2 signature cannot be made from a digest the portal computes
alone: it signs SM3(Z || data), and Z needs the signer's public key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if byDigest && !cmd.Flags().Changed("format") {
				format = portal.FormatCMSDetached
			}
			if err := checkSignFlags(files, format); err != nil {
				return err
			}
			if byDigest && format != portal.FormatCMSDetached {
				return usageErrorf("--digest makes a detached CMS: use --format cms-detached")
			}
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			req, err := o.request(portal.KindSign, "", "")
			if err != nil {
				return err
			}
			if byDigest && req.Alg == "" {
				req.Alg = "SM2"
			}
			var docs []signFile
			if byDigest {
				docs, err = digestSignFiles(files, req.Alg)
			} else {
				docs, err = readSignFiles(files)
			}
			if err != nil {
				return err
			}
			addDocuments(&req, docs, format)
			_, final, err := o.runSession(cmd, c, req)
			if err != nil {
				return err
			}
			res, err := final.Sign()
			if err != nil {
				return err
			}
			return saveSignatures(cmd, c, docs, format, res)
		},
	}
	cmd.Flags().StringArrayVar(&files, "file", nil, "a file to sign (repeat for several: one confirmation signs them all)")
	cmd.Flags().StringVar(&format, "format", portal.FormatRaw, "raw (DER signature), cms-detached or cms-attached (CMS SignedData)")
	cmd.Flags().BoolVar(&byDigest, "digest", false, "send each file's digest, not its bytes (large files; detached CMS; SM3 for --alg SM2, the default, SHA-256 for RSA)")
	return cmd
}

// digestSignFiles is readSignFiles for --digest: each file is hashed as
// it is read (SM3 for SM2, SHA-256 for RSA), never held whole.
func digestSignFiles(files []string, alg string) ([]signFile, error) {
	var docs []signFile
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		if seen[name] {
			return nil, usageErrorf("two files are named %s", name)
		}
		seen[name] = true
		d, err := digestFile(f, alg)
		if err != nil {
			return nil, err
		}
		docs = append(docs, signFile{path: f, name: name, digest: d})
	}
	return docs, nil
}

// digestFile hashes a file: SM3 for SM2, SHA-256 for RSA.
func digestFile(path, alg string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", errFileNotFound, path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var h hash.Hash = sm3.New()
	if alg == "RSA" {
		h = sha256.New()
	}
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", path, err)
	}
	return h.Sum(nil), nil
}

// checkSignFlags checks --format and that there is a --file.
func checkSignFlags(files []string, format string) error {
	switch format {
	case portal.FormatRaw, portal.FormatCMSDetached, portal.FormatCMSAttached:
	default:
		return usageErrorf("--format must be raw, cms-detached or cms-attached")
	}
	if len(files) == 0 {
		return usageErrorf("give at least one --file")
	}
	return nil
}

// signFile is one file to sign: its path, its document name (the base
// name) and its contents (or, with --digest, its digest).
type signFile struct {
	path, name string
	data       []byte
	digest     []byte // --digest: the file's digest instead of data
}

// readSignFiles reads the files; two with the same base name are a usage
// error (the documents are named by it).
func readSignFiles(files []string) ([]signFile, error) {
	var docs []signFile
	seen := map[string]bool{}
	for _, f := range files {
		b, err := readFile(f)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(f)
		if seen[name] {
			return nil, usageErrorf("two files are named %s", name)
		}
		seen[name] = true
		docs = append(docs, signFile{path: f, name: name, data: b})
	}
	return docs, nil
}

// addDocuments puts docs into req in format, with a default title and
// summary.
func addDocuments(req *portal.SessionRequest, docs []signFile, format string) {
	var names []string
	for _, d := range docs {
		names = append(names, d.name)
		if d.digest != nil {
			req.Documents = append(req.Documents, portal.Document{Name: d.name, Digest: d.digest})
			continue
		}
		req.Documents = append(req.Documents, portal.Document{Name: d.name, Data: d.data})
	}
	req.Format = format
	if req.Display.Title == "" {
		req.Display.Title = fmt.Sprintf("Sign %d document(s)", len(docs))
	}
	if req.Display.Summary == "" {
		req.Display.Summary = strings.Join(names, ", ")
	}
}

// saveSignatures prints the signer, then writes each signed document next
// to its file and checks it here and at the gateway. A failed check does
// not stop the others; the last one is returned.
func saveSignatures(cmd *cobra.Command, c *portal.Client, docs []signFile, format string, res *portal.SignResult) error {
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(res.CertificatePEM))
	if err != nil {
		return fmt.Errorf("the result's certificate: %w", err)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "\nSigned by %s (serial %x)\n", certs[0].Subject.String(), certs[0].SerialNumber.Bytes())
	if len(res.Documents) != len(docs) {
		return fmt.Errorf("%w: %d signed documents for %d files", portal.ErrProtocol, len(res.Documents), len(docs))
	}
	var failed error
	for i, d := range res.Documents {
		if d.Name != docs[i].name {
			return fmt.Errorf("%w: document %d is %q, want %q", portal.ErrProtocol, i, d.Name, docs[i].name)
		}
		outFile, local, vreq, err := saveSigned(docs[i], d, format, res.CertificatePEM, certs[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\n%s → %s\n", docs[i].path, outFile)
		if local != nil {
			fmt.Fprintf(out, "  %-28s FAILED\n", "local check:")
			failed = fmt.Errorf("%s: local check failed: %w", outFile, local)
		} else {
			fmt.Fprintf(out, "  %-28s valid\n", "local check:")
		}
		gv, err := c.Verify(cmd.Context(), vreq)
		if err != nil {
			return err
		}
		if err := verdict(out, "signature", gv); err != nil {
			failed = err
		}
	}
	return failed
}

// saveSigned writes one signed document next to its file (FILE.sig for a
// raw signature, FILE.p7s for a CMS) and checks it here (local, nil when
// valid); it returns the file written and the request that has the
// gateway check it too.
func saveSigned(f signFile, d portal.SignedDocument, format, certPEM string, cert *smx509.Certificate) (outFile string, local error, vreq portal.VerifyRequest, err error) {
	if format == portal.FormatRaw {
		outFile = f.path + ".sig"
		if err := writeOutput(outFile, d.Signature, 0o644); err != nil {
			return "", nil, vreq, err
		}
		local = gmcrypto.Verify(cert.PublicKey, f.data, d.Signature, nil)
		return outFile, local, portal.VerifyRequest{Data: f.data, Signature: d.Signature, CertificatePEM: certPEM}, nil
	}
	outFile = f.path + ".p7s"
	if err := writeOutput(outFile, d.CMS, 0o644); err != nil {
		return "", nil, vreq, err
	}
	if f.digest != nil {
		_, local = gmcrypto.VerifyCMSDigest(d.CMS, f.digest)
		return outFile, local, portal.VerifyRequest{CMS: d.CMS, Digest: f.digest}, nil
	}
	content := f.data
	if format == portal.FormatCMSAttached {
		content = nil
	}
	sc, local := gmcrypto.VerifyCMS(d.CMS, content)
	if local == nil && !bytes.Equal(sc.Content, f.data) {
		local = errors.New("the signed content is not the file")
	}
	return outFile, local, portal.VerifyRequest{CMS: d.CMS, Data: content}, nil
}

func newPortalDecryptCmd(o *portalOpts) *cobra.Command {
	var in, format, outPath string
	var returnKey bool
	cmd := &cobra.Command{
		Use:   "decrypt --in FILE --ciphertext-format c1c3c2|c1c2c3|asn1|rsa-oaep|rsa-pkcs1|cms [--return-key] [--out FILE]",
		Short: "QR decryption: the phone opens a ciphertext (bid opening); writes the plaintext",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch format {
			case portal.CipherC1C3C2, portal.CipherC1C2C3, portal.CipherASN1, portal.CipherRSAOAEP, portal.CipherRSAPKCS1, portal.CipherCMS:
			default:
				return usageErrorf("--ciphertext-format must be c1c3c2, c1c2c3, asn1, rsa-oaep, rsa-pkcs1 or cms")
			}
			if in == "" {
				return usageErrorf("give the ciphertext file with --in")
			}
			if returnKey && format != portal.CipherCMS {
				return usageErrorf("--return-key goes with --ciphertext-format cms")
			}
			ct, err := readFile(in)
			if err != nil {
				return err
			}
			if outPath == "" {
				outPath = strings.TrimSuffix(in, filepath.Ext(in)) + ".plain"
				if outPath == in {
					outPath = in + ".plain"
				}
			}
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			req, err := o.request(portal.KindDecrypt, "Open an encrypted document", filepath.Base(in))
			if err != nil {
				return err
			}
			req.Ciphertext, req.CiphertextFormat, req.ReturnKey = ct, format, returnKey
			_, final, err := o.runSession(cmd, c, req)
			if err != nil {
				return err
			}
			res, err := final.Decrypt()
			if err != nil {
				return err
			}
			if returnKey {
				// The portal opens the bulk itself: print the recovered
				// content-encryption key and its algorithm.
				fmt.Fprintf(cmd.OutOrStdout(), "\nContent key of %s: %s (algorithm %s)\n", in, hex.EncodeToString(res.ContentKey), res.ContentAlg)
				return nil
			}
			if err := writeOutput(outPath, res.Plaintext, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nDecrypted %s → %s (%d bytes, SM3 %s)\n", in, outPath, len(res.Plaintext), hex.EncodeToString(gmcrypto.SM3(res.Plaintext)))
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "the ciphertext file (binary; CMS may be DER or PEM)")
	cmd.Flags().StringVar(&format, "ciphertext-format", portal.CipherCMS, "c1c3c2, c1c2c3, asn1 (SM2), rsa-oaep, rsa-pkcs1 (RSA) or cms (EnvelopedData)")
	cmd.Flags().StringVar(&outPath, "out", "", "where to write the plaintext (default: the input name with .plain)")
	cmd.Flags().BoolVar(&returnKey, "return-key", false, "CMS only: print the recovered content-encryption key instead of decrypting the content")
	return cmd
}

func newPortalEncryptCmd(o *portalOpts) *cobra.Command {
	var in, outPath string
	cmd := &cobra.Command{
		Use:   "encrypt --user USER_ID --in FILE [--out FILE] [--issuer ID] [--alg SM2|RSA]",
		Short: "Envelope a file to a user's encryption credential (POST /v1/encrypt); only their phone opens it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.user == "" || in == "" {
				return usageErrorf("give --user and --in")
			}
			if o.alg != "" {
				return usageErrorf("--alg is not used by encrypt: choose the credential with --issuer")
			}
			data, err := readFile(in)
			if err != nil {
				return err
			}
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			der, err := c.Encrypt(cmd.Context(), o.user, o.issuer, data)
			if err != nil {
				return err
			}
			if outPath == "" {
				outPath = in + ".p7m"
			}
			if err := writeOutput(outPath, der, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Enveloped %s (%d bytes) for user %s → %s (CMS EnvelopedData, %d bytes)\n", in, len(data), o.user, outPath, len(der))
			fmt.Fprintf(cmd.OutOrStdout(), "Open it on the phone: ukeygate portal decrypt --in %s --ciphertext-format cms\n", outPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "the file to envelope")
	cmd.Flags().StringVar(&outPath, "out", "", "where to write the envelope (default: FILE.p7m)")
	return cmd
}
