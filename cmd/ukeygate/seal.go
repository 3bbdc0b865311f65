package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

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
			if err := notCut("--owner", req.Owner); err != nil {
				return err
			}
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
line only): ID, KIND, VER, STATE, NOT AFTER (the date) and NAME. Every
owner's seals are grouped by owner, under a line with the owner's user id,
whole: paste it into --owner or any other command.
VER is the seal's version: 1 as made, one more each time a renewal of a
signing certificate it is bound to re-issued it under the same id. For one
user, a version marked * is a re-issue still pending: the seal is bound to a
certificate a renewal superseded and is re-issued at the next start, scan or
confirm.

--wide adds every column: OWNER (every owner's, on each line), SIZE MM and
ISSUER. --json prints the server's answer (every field, and
signer_credentials, reissued_at, previous_versions, reissue_pending), for
scripts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := notCut("--owner", owner); err != nil {
				return err
			}
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
	// sealsOfAll: sealsOfOwner's columns, the seals grouped by owner,
	// each group under a line with the owner's id whole.
	sealsOfAll sealLayout = iota
	// sealsOfOwner (one user's seals): ID, KIND, VER, STATE, NOT AFTER,
	// NAME.
	sealsOfOwner
	// sealsWide: ID, OWNER, KIND, SIZE MM, ISSUER, VER, STATE, NOT AFTER,
	// NAME.
	sealsWide
	// sealsOfOwnerWide: sealsWide without OWNER.
	sealsOfOwnerWide
)

// sealTable prints seals in layout. VER is the version, marked * when a
// re-issue is pending (explained under the table). So that a table fits
// 80 columns with a name of up to 10 汉字 and a space, ids stay whole
// (they are what an operator pastes into a ticket or a command):
// every owner's table has no OWNER column but a line with the owner's id
// above the owner's seals (a user id is as wide as a seal id, so it
// lines up in the ID column); NOT AFTER is the date and NAME, as long as
// the operator made it, comes last: a long name lengthens its own line
// only.
func sealTable(tw *table, list []*operator.Seal, layout sealLayout) {
	wide := layout == sealsWide || layout == sealsOfOwnerWide
	cells := func(id, owner, kind, size, issuer string, rest ...any) []any {
		out := []any{id}
		if layout == sealsWide {
			out = append(out, owner)
		}
		out = append(out, kind)
		if wide {
			out = append(out, size, issuer)
		}
		return append(out, rest...)
	}
	row(tw, cells("ID", "OWNER", "KIND", "SIZE MM", "ISSUER", "VER", "STATE", "NOT AFTER", "NAME")...)
	pending := false
	line := func(s *operator.Seal) {
		ver := strconv.Itoa(max(s.Version, 1))
		if s.ReissuePending {
			ver += "*"
			pending = true
		}
		notAfter := "-"
		if !s.NotAfter.IsZero() {
			notAfter = s.NotAfter.Local().Format(time.DateOnly)
		}
		row(tw, cells(s.ID, s.Owner, s.Kind, formatSize(s.WidthMM, s.HeightMM), s.Issuer, ver, s.State, notAfter, s.Name)...)
	}
	if layout != sealsOfAll {
		for _, s := range list {
			if s != nil {
				line(s)
			}
		}
	} else {
		for _, g := range sealsByOwner(list) {
			n := "the seal below"
			if len(g) > 1 {
				n = "the " + strconv.Itoa(len(g)) + " seals below"
			}
			row(tw, g[0].Owner, "(owner of "+n+")")
			for _, s := range g {
				line(s)
			}
		}
	}
	if pending {
		fmt.Fprintln(tw, sealPendingNote)
	}
}

// notCut refuses an id cut with … (as earlier versions of seal list
// printed owners), which no command takes: the server would find no
// such user, and seal list --owner would list nothing.
func notCut(flag, id string) error {
	if strings.Contains(id, "…") {
		return usageErrorf("%s %s: an id cut with …; ukeygate seal list prints every owner's id whole (ids are never shortened: a prefix is not accepted)", flag, id)
	}
	return nil
}

// sealsByOwner groups list by owner, the owners in the order of their
// first seal and each owner's seals in list's order.
func sealsByOwner(list []*operator.Seal) [][]*operator.Seal {
	var groups [][]*operator.Seal
	at := map[string]int{}
	for _, s := range list {
		if s == nil {
			continue
		}
		i, ok := at[s.Owner]
		if !ok {
			i = len(groups)
			at[s.Owner] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], s)
	}
	return groups
}

func formatSize(w, h float64) string {
	return trimFloat(w) + "×" + trimFloat(h)
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
