package main

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/operator"
)

func newSealCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "seal",
		Short: "Make, list and revoke users' electronic seals (电子签章; operator API)",
	}
	addOperatorFlags(cmd)
	cmd.AddCommand(newSealAddCmd(), newSealListCmd(), newSealRevokeCmd(), newSealImageCmd())
	return cmd
}

func newSealAddCmd() *cobra.Command {
	var req api.SealRequest
	var image string
	cmd := &cobra.Command{
		Use:   "add --owner USER --name NAME --kind official|contract|finance|legal_rep|personal --image FILE.png --width-mm W --height-mm H [--issuer ID] [--validity-days N]",
		Short: "Make a seal for a user from a transparent PNG (GB/T 38540 SES_Seal signed by the issuer)",
		Long: `Make an electronic seal for a user: a transparent PNG (at most 256 KiB), its
printed size in millimetres and its kind. The gateway binds it to the user's
active signing certificates in a GB/T 38540 SES_Seal signed by the issuer
(default: the issuer of the user's first signing credential).

  ukeygate seal add --owner usr_… --name "某某有限公司 公章" --kind official \
    --image seal.png --width-mm 40 --height-mm 40`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			png, err := readInput(cmd, image)
			if err != nil {
				return err
			}
			req.ImagePNG = png
			if err := req.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			var out operator.Seal
			return opPrint(cmd, "POST", "/v1/admin/seals", req, &out, func(tw *table) { sealTable(tw, []*operator.Seal{&out}, sealsOfAll) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Owner, "owner", "", "the user the seal is for (required)")
	f.StringVar(&req.Name, "name", "", "the seal's name, e.g. the organisation and kind (required)")
	f.StringVar(&req.Kind, "kind", "", "official, contract, finance, legal_rep or personal (required)")
	f.StringVar(&image, "image", "", "transparent PNG file (- for stdin; required)")
	f.Float64Var(&req.WidthMM, "width-mm", 0, "printed width in millimetres, 5 to 100 (required)")
	f.Float64Var(&req.HeightMM, "height-mm", 0, "printed height in millimetres, 5 to 100 (required)")
	f.StringVar(&req.Issuer, "issuer", "", "the internal issuer that signs the seal")
	f.IntVar(&req.ValidityDays, "validity-days", 0, "validity in days (default 3 years, cut at the user's last signing certificate)")
	for _, name := range []string{"owner", "name", "kind", "image", "width-mm", "height-mm"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newSealListCmd() *cobra.Command {
	var owner string
	var wide bool
	cmd := &cobra.Command{
		Use:   "list [--owner USER] [--wide | --json]",
		Short: "List seals (of one user)",
		Long: `List the seals, or one user's (--owner). The table fits 80 columns with a
name of up to 10 汉字 (a longer name, in the last column, lengthens its own
line only): ID, OWNER (every owner's seals: the start of the user id, cut
with …), KIND (one user's seals), VER, STATE, NOT AFTER (the date) and NAME.
VER is the seal's version: 1 as made, one more each time a renewal of a
signing certificate it is bound to re-issued it under the same id. For one
user, a version marked * is a re-issue still pending: the seal is bound to a
certificate a renewal superseded and is re-issued at the next start, scan or
confirm.

--wide adds every column, whole: OWNER (every owner's), KIND, SIZE MM and
ISSUER. --json prints the server's answer (every field, and
signer_credentials, reissued_at, previous_versions, reissue_pending), for
scripts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Seals []*operator.Seal `json:"seals"`
			}
			layout := sealsOfAll
			switch {
			case wide && owner == "":
				layout = sealsWide
			case wide:
				layout = sealsOfOwnerWide
			case owner != "":
				layout = sealsOfOwner
			}
			return opPrint(cmd, "GET", withQuery("/v1/admin/seals", map[string]string{"owner": owner}), nil, &out,
				func(tw *table) { sealTable(tw, out.Seals, layout) })
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", "only this user's seals")
	cmd.Flags().BoolVar(&wide, "wide", false, "every column, ids whole (wider than 80 columns)")
	return cmd
}

func newSealRevokeCmd() *cobra.Command {
	var req api.RevokeRequest
	cmd := &cobra.Command{
		Use:   "revoke SEAL_ID [--reason keyCompromise|superseded|…]",
		Short: "Revoke a seal (it can no longer be used; verification reports it revoked)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out operator.Seal
			return opPrint(cmd, "POST", "/v1/admin/seals/"+url.PathEscape(args[0])+"/revoke", req, &out,
				func(tw *table) { sealTable(tw, []*operator.Seal{&out}, sealsOfAll) })
		},
	}
	cmd.Flags().StringVar(&req.Reason, "reason", "unspecified",
		"RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, aACompromise")
	return cmd
}

// sealPendingNote ends a table with a seal whose re-issue is pending.
const sealPendingNote = "* bound to a superseded certificate: re-issued at next start, scan or confirm"

// sealLayout is which columns a seal table has.
type sealLayout int

const (
	// sealsOfAll: ID, OWNER cut to sealOwnerWidth, VER, STATE, NOT AFTER,
	// NAME.
	sealsOfAll sealLayout = iota
	// sealsOfOwner (one user's seals): ID, KIND, VER, STATE, NOT AFTER,
	// NAME.
	sealsOfOwner
	// sealsWide: ID, OWNER, KIND, SIZE MM, ISSUER, VER, STATE, NOT AFTER,
	// NAME, ids whole.
	sealsWide
	// sealsOfOwnerWide: sealsWide without OWNER.
	sealsOfOwnerWide
)

// sealOwnerWidth is the width of the OWNER column of sealsOfAll: "usr_"
// and four characters of the id, then "…".
const sealOwnerWidth = 9

// sealTable prints seals in layout. VER is the version, marked * when a
// re-issue is pending (explained under the table). So that a table fits
// 80 columns with a name of up to 10 汉字 and a space, the seal id stays
// whole (it is what an operator pastes into a ticket or a command) while
// every owner's table cuts the owner's id (whole with --wide) and leaves
// out KIND, NOT AFTER is the date and NAME, as long as the operator made
// it, comes last: a long name lengthens its own line only.
func sealTable(tw *table, list []*operator.Seal, layout sealLayout) {
	wide := layout == sealsWide || layout == sealsOfOwnerWide
	cells := func(id, owner, kind, size, issuer string, rest ...any) []any {
		out := []any{id}
		if layout == sealsOfAll || layout == sealsWide {
			out = append(out, owner)
		}
		if layout != sealsOfAll {
			out = append(out, kind)
		}
		if wide {
			out = append(out, size, issuer)
		}
		return append(out, rest...)
	}
	row(tw, cells("ID", "OWNER", "KIND", "SIZE MM", "ISSUER", "VER", "STATE", "NOT AFTER", "NAME")...)
	pending := false
	for _, s := range list {
		if s == nil {
			continue
		}
		ver := strconv.Itoa(max(s.Version, 1))
		if s.ReissuePending {
			ver += "*"
			pending = true
		}
		notAfter := "-"
		if !s.NotAfter.IsZero() {
			notAfter = s.NotAfter.Local().Format(time.DateOnly)
		}
		owner := s.Owner
		if layout == sealsOfAll {
			owner = cutID(owner, sealOwnerWidth)
		}
		row(tw, cells(s.ID, owner, s.Kind, formatSize(s.WidthMM, s.HeightMM), s.Issuer, ver, s.State, notAfter, s.Name)...)
	}
	if pending {
		fmt.Fprintln(tw, sealPendingNote)
	}
}

// cutID is id, or, when it is longer than n, its first n-1 characters and
// "…".
func cutID(id string, n int) string {
	if utf8.RuneCountInString(id) <= n {
		return id
	}
	return string([]rune(id)[:n-1]) + "…"
}

func formatSize(w, h float64) string {
	return trimFloat(w) + "×" + trimFloat(h)
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
