package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/portal"
)

func newPortalSealCmd(o *portalOpts) *cobra.Command {
	var (
		file, keyword, sealID, out string
		page                       int
		x, y, straddleY            float64
		straddle                   bool
	)
	cmd := &cobra.Command{
		Use:   "seal --file FILE.pdf (--page N --x MM --y MM | --keyword TEXT | --straddle-y MM) [--seal ID] [--out FILE]",
		Short: "QR sealing (盖章): the phone draws the user's seal on a PDF and signs it; writes FILE.sealed.pdf",
		Long: `A seal session: the phone user sees the PDF's name, pages and where the seal
goes, chooses one of their seals (unless --seal names it) and confirms with
the PIN; the gateway draws the seal and signs the PDF (PAdES, an incremental
update: earlier signatures stay valid). The sealed PDF is checked locally
(portal.VerifyPDF, chain to the gateway's issuers) and by the gateway
(POST /v1/verify, with revocation), and written next to the file.

  ukeygate portal seal --file bid.pdf --page 1 --x 150 --y 240
  ukeygate portal seal --file bid.pdf --keyword "(seal)"
  ukeygate portal seal --file bid.pdf --straddle-y 150          (骑缝章)

--x and --y are the seal's centre in millimetres from the page's top-left
corner.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			straddle = cmd.Flags().Changed("straddle-y")
			var pl []portal.Placement
			switch {
			case keyword != "" && (page != 0 || cmd.Flags().Changed("x") || cmd.Flags().Changed("y")):
				return usageErrorf("give --keyword or --page with --x and --y, not both")
			case keyword != "":
				pl = append(pl, portal.Placement{Keyword: keyword})
			case page != 0:
				if !cmd.Flags().Changed("x") || !cmd.Flags().Changed("y") {
					return usageErrorf("--page needs --x and --y (millimetres from the top-left corner)")
				}
				pl = append(pl, portal.Placement{Page: page, XMM: x, YMM: y})
			case !straddle:
				return usageErrorf("say where the seal goes: --page N --x MM --y MM, --keyword TEXT or --straddle-y MM")
			}
			pdf, err := readFile(file)
			if err != nil {
				return err
			}
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			name := filepath.Base(file)
			req, err := o.request(portal.KindSeal, "盖章 "+name, "Seal "+name)
			if err != nil {
				return err
			}
			doc := portal.Document{Name: name, PDF: pdf, Placements: pl}
			if straddle {
				doc.Straddle = &portal.Straddle{YMM: straddleY}
			}
			req.Documents = []portal.Document{doc}
			req.Seal = sealID
			roots, err := issuerRoots(cmd.Context(), strings.TrimRight(c.BaseURL, "/"))
			if err != nil {
				return err
			}
			_, final, err := o.runSession(cmd, c, req)
			if err != nil {
				return err
			}
			res, err := final.Seal()
			if err != nil {
				return err
			}
			if len(res.Documents) != 1 || res.Documents[0].Name != name {
				return fmt.Errorf("%w: the result does not hold %s", portal.ErrProtocol, name)
			}
			// A large PDF went as an upload: the result holds what the
			// seal appended, checked against the whole's SHA-256.
			sealed, err := res.Documents[0].Assemble(pdf)
			if err != nil {
				return err
			}
			if out == "" {
				out = strings.TrimSuffix(file, filepath.Ext(file)) + ".sealed.pdf"
			}
			if err := writeOutput(out, sealed, 0o644); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "\n%s → %s (%d bytes, %d added)\n", file, out, len(sealed), len(sealed)-len(pdf))
			if up := res.Documents[0].Upload; up != "" {
				fmt.Fprintf(w, "  sent as upload %s (over the inline limit); the result held only the %d bytes the seal added\n", up, len(res.Documents[0].Update))
			}
			local, err := portal.VerifyPDF(sealed, roots)
			if err != nil {
				return err
			}
			var failed error
			for _, s := range local {
				state := "valid"
				if !s.Valid || s.Modified {
					state, failed = "INVALID ("+s.Problem+")", fmt.Errorf("local check of %s failed", s.Field)
				}
				seal := "no seal"
				if s.Seal != nil {
					seal = fmt.Sprintf("seal %s %q (%s), valid %v", s.Seal.ID, s.Seal.Name, s.Seal.Kind, s.SealValid)
				}
				signer := "signer unknown"
				if s.Signer != nil {
					signer = s.Signer.Subject.String()
				}
				fmt.Fprintf(w, "  %-28s %s — %s; %s\n", "local check ("+s.Field+"):", state, signer, seal)
			}
			gv, err := c.VerifyPDF(cmd.Context(), sealed)
			if err != nil {
				return err
			}
			if err := verdict(w, "sealed PDF", gv); err != nil {
				return err
			}
			return failed
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "file", "", "the PDF to seal (required)")
	f.IntVar(&page, "page", 0, "the page of the seal (from 1)")
	f.Float64Var(&x, "x", 0, "the seal's centre, millimetres from the left edge")
	f.Float64Var(&y, "y", 0, "the seal's centre, millimetres from the top edge")
	f.StringVar(&keyword, "keyword", "", "seal every occurrence of this text instead")
	f.Float64Var(&straddleY, "straddle-y", 0, "also a straddle seal (骑缝章) across the pages' right edges, centred this many millimetres from the top")
	f.StringVar(&sealID, "seal", "", "the seal to use (default: the phone user chooses)")
	f.StringVarP(&out, "out", "o", "", "the sealed PDF (default FILE.sealed.pdf)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}
