package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/storage"
)

// sealLine is the line of out holding id ("" if none).
func sealLine(out, id string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, id) {
			return l
		}
	}
	return ""
}

// cellUnder is the cell of line that starts in the column of header's
// name (by display width), up to the next two spaces.
func cellUnder(header, line, name string) string {
	col := columnAt(header, name)
	if col < 0 {
		return ""
	}
	w := 0
	for i, r := range line {
		if w == col {
			cell, _, _ := strings.Cut(line[i:], "  ")
			return cell
		}
		w += runeWidth(r)
	}
	return ""
}

// headerCells are the column names of a table's header line (cells
// apart by two spaces or more; "SIZE MM" and "NOT AFTER" are one each).
func headerCells(header string) []string {
	var out []string
	for _, c := range strings.Split(header, "  ") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// TestSealTable: the seal table in each layout. Every owner's seals and
// one user's fit 80 columns with names of up to 10 汉字 and a space (a
// longer name comes last and lengthens its own line only): the seal id
// whole, no SIZE MM or ISSUER; every owner's are grouped by owner, each
// group under a line with the owner's id whole in the ID column (no
// OWNER column); --wide has every column and the owner whole on each
// line. VER is the version, marked * when a re-issue is pending,
// explained under the table (only when there is one) in under 80
// columns.
func TestSealTable(t *testing.T) {
	end := time.Date(2029, 3, 1, 12, 0, 0, 0, time.Local)
	const owner = "usr_p3nt4w6ys3cpcxvk"
	mk := func(id, name, kind string, version int, pending bool) *operator.Seal {
		return &operator.Seal{ID: id, Owner: owner, Name: name, Kind: kind, WidthMM: 40, HeightMM: 42.5,
			Issuer: "sm2-root", State: "active", NotAfter: end, Version: version, ReissuePending: pending}
	}
	official := mk("sel_a3nt4w6ys3cpcxvk", "某某建设有限公司 公章", "official", 1, false)
	contract := mk("sel_b3nt4w6ys3cpcxvk", "某某建设工程集团有限公司 合同专用章", "contract", 3, false)
	legal := mk("sel_c3nt4w6ys3cpcxvk", "欧阳娜娜之印", "legal_rep", 2, true)
	expired := mk("sel_e3nt4w6ys3cpcxvk", "某某建设有限公司 财务章", "finance", 1, false)
	expired.State = "expired"
	const other = "usr_q4xz7kd2mm9wbe3t"
	others := mk("sel_f3nt4w6ys3cpcxvk", "另一公司 公章", "official", 1, false)
	others.Owner = other
	var (
		ofOwner   = []string{"ID", "KIND", "VER", "STATE", "NOT AFTER", "NAME"}
		ofAll     = ofOwner
		wide      = []string{"ID", "OWNER", "KIND", "SIZE MM", "ISSUER", "VER", "STATE", "NOT AFTER", "NAME"}
		ownerWide = []string{"ID", "KIND", "SIZE MM", "ISSUER", "VER", "STATE", "NOT AFTER", "NAME"}
	)
	for _, tc := range []struct {
		name    string
		list    []*operator.Seal
		layout  sealLayout
		columns []string
		owner   string            // the OWNER cell ("" without the column)
		vers    map[string]string // seal id: VER cell
		fits    bool              // 80 columns with a name of up to 21
		// groups: every owner's, the lines after the header: an owner's
		// id, then its seals' ids, in order.
		groups []string
	}{
		{"one user's, none pending", []*operator.Seal{official, contract, expired}, sealsOfOwner, ofOwner, "",
			map[string]string{official.ID: "1", contract.ID: "3", expired.ID: "1"}, true, nil},
		{"one user's, one pending", []*operator.Seal{official, contract, legal}, sealsOfOwner, ofOwner, "",
			map[string]string{official.ID: "1", contract.ID: "3", legal.ID: "2*"}, true, nil},
		{"every owner's", []*operator.Seal{official, others, legal, expired}, sealsOfAll, ofAll, "",
			map[string]string{official.ID: "1", others.ID: "1", legal.ID: "2*", expired.ID: "1"}, true,
			[]string{owner, official.ID, legal.ID, expired.ID, other, others.ID}},
		{"every owner's, wide", []*operator.Seal{official, legal}, sealsWide, wide, owner,
			map[string]string{official.ID: "1", legal.ID: "2*"}, false, nil},
		{"one user's, wide", []*operator.Seal{official, legal}, sealsOfOwnerWide, ownerWide, "",
			map[string]string{official.ID: "1", legal.ID: "2*"}, false, nil},
		{"a version 0 from an older server", []*operator.Seal{mk("sel_d3nt4w6ys3cpcxvk", "旧章", "finance", 0, false)}, sealsOfAll, ofAll, "",
			map[string]string{"sel_d3nt4w6ys3cpcxvk": "1"}, true, []string{owner, "sel_d3nt4w6ys3cpcxvk"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			tw := newTable(&b)
			sealTable(tw, tc.list, tc.layout)
			if err := tw.Flush(); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			header := strings.SplitN(out, "\n", 2)[0]
			if got := headerCells(header); !slices.Equal(got, tc.columns) {
				t.Fatalf("columns %q, want %q:\n%s", got, tc.columns, out)
			}
			pending := false
			for id, want := range tc.vers {
				line := sealLine(out, id)
				if got := cellUnder(header, line, "ID"); got != id {
					t.Errorf("ID %q, want %q whole:\n%s", got, id, out)
				}
				if got := cellUnder(header, line, "VER"); got != want {
					t.Errorf("%s: VER %q, want %q:\n%s", id, got, want, out)
				}
				if got := cellUnder(header, line, "NOT AFTER"); got != end.Format(time.DateOnly) {
					t.Errorf("%s: NOT AFTER %q:\n%s", id, got, out)
				}
				if tc.owner != "" {
					if got := cellUnder(header, line, "OWNER"); got != tc.owner {
						t.Errorf("%s: OWNER %q, want %q:\n%s", id, got, tc.owner, out)
					}
				}
				pending = pending || strings.HasSuffix(want, "*")
			}
			if tc.groups != nil {
				// The owner's line: the id whole in the ID column, then
				// what it is, within 80 columns.
				var ids []string
				for _, l := range strings.Split(out, "\n")[1:] {
					if id := cellUnder(header, l, "ID"); strings.HasPrefix(id, "usr_") || strings.HasPrefix(id, "sel_") {
						ids = append(ids, id)
					}
					if strings.HasPrefix(l, "usr_") && (!strings.Contains(l, "(owner of the ") || displayWidth(l) > 80) {
						t.Errorf("owner line %q", l)
					}
				}
				if !slices.Equal(ids, tc.groups) {
					t.Errorf("the lines' ids %q, want %q:\n%s", ids, tc.groups, out)
				}
			}
			if got := strings.Contains(out, sealPendingNote); got != pending {
				t.Errorf("the note on a pending re-issue: %v, want %v:\n%s", got, pending, out)
			}
			if displayWidth(sealPendingNote) > 80 {
				t.Errorf("the note is %d columns", displayWidth(sealPendingNote))
			}
			name := columnAt(header, "NAME")
			for _, sl := range tc.list {
				l := sealLine(out, sl.ID)
				if columnAt(l, sl.Name) != name {
					t.Errorf("%s: the name is not the last column:\n%s", sl.ID, out)
				}
				if n := displayWidth(sl.Name); tc.fits && n <= 21 && displayWidth(l) > 80 {
					t.Errorf("%d columns with a name of %d: %q", displayWidth(l), n, l)
				}
			}
		})
	}
}

// TestSealListVersions: against a real server, ukeygate seal list
// --owner shows a seal at version 1, at version 2 once the user's
// signing credential was renewed (ukeygate phone renew), and 1* with
// the note when a crash left the re-issue pending; --json carries
// version, signer_credentials, reissued_at, previous_versions and
// reissue_pending. Every owner's list shows the owner's id whole, on a
// line of its own that pastes into --owner, and leaves room for a name in
// 80 columns; --wide has every column.
func TestSealListVersions(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	ts := servertest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	state := filepath.Join(dir, "phone.json")
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	ph := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--state", state, "--pin", "135790")...)
	}
	op("issuer", "add", "--id", "sm2", "--name", "SM2 CA", "--alg", "SM2", "--cn", "Seal list SM2 Root")
	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "张三", "--json"), &user)
	mustCLI(t, "", "phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--pin", "135790", "--state", state)
	var cred struct {
		Credential struct{ ID string } `json:"credential"`
	}
	decode(t, ph("phone", "request", "--issuer", "sm2", "--alg", "SM2", "--purpose", "sign", "--json"), &cred)
	pngFile := filepath.Join(dir, "seal.png")
	mustCLI(t, "", "seal", "image", "--org", "某某建设有限公司", "--title", "合同专用章", "--out", pngFile)
	var sl operator.Seal
	decode(t, op("seal", "add", "--owner", user.ID, "--name", "某某建设有限公司 合同专用章", "--kind", "contract",
		"--image", pngFile, "--width-mm", "40", "--height-mm", "40", "--json"), &sl)

	list := func(wantVer string) {
		t.Helper()
		out := op("seal", "list", "--owner", user.ID)
		header := strings.SplitN(out, "\n", 2)[0]
		if got := cellUnder(header, sealLine(out, sl.ID), "VER"); got != wantVer {
			t.Fatalf("VER %q, want %q:\n%s", got, wantVer, out)
		}
		if got, want := strings.Contains(out, sealPendingNote), strings.HasSuffix(wantVer, "*"); got != want {
			t.Fatalf("the note on a pending re-issue: %v, want %v:\n%s", got, want, out)
		}
		if strings.Contains(header, "OWNER") {
			t.Errorf("one user's seals with an OWNER column:\n%s", out)
		}
	}
	asJSON := func() operator.Seal {
		t.Helper()
		var out struct{ Seals []operator.Seal }
		decode(t, op("seal", "list", "--owner", user.ID, "--json"), &out)
		if len(out.Seals) != 1 {
			t.Fatalf("%d seals", len(out.Seals))
		}
		return out.Seals[0]
	}

	list("1")
	v1, err := ts.Server.Store().Get(ctx, "seals/"+sl.ID)
	if err != nil {
		t.Fatal(err)
	}
	var renewed struct {
		Credential struct{ ID string } `json:"credential"`
	}
	decode(t, ph("phone", "renew", cred.Credential.ID, "--json"), &renewed)
	list("2")
	if got := asJSON(); got.Version != 2 || got.ReissuedAt.IsZero() || len(got.PreviousVersions) != 1 || got.ReissuePending ||
		fmt.Sprint(got.SignerCredentials) != fmt.Sprint([]string{renewed.Credential.ID}) {
		t.Fatalf("after the renewal: %+v", got)
	}

	// A crash right after the renewal's write: the seal's first record
	// and the renewal's marker.
	marker := "sealreissues/" + user.ID + "/" + cred.Credential.ID
	if _, err := ts.Server.Store().Txn(ctx, storage.Put("seals/"+sl.ID, v1.Value, 0),
		storage.Put(marker, []byte(`{"successor":"`+renewed.Credential.ID+`","at":"2026-01-01T00:00:00Z"}`), 0)); err != nil {
		t.Fatal(err)
	}
	list("1*")
	if got := asJSON(); got.Version != 1 || !got.ReissuePending {
		t.Fatalf("after the crash: %+v", got)
	}
	// Every owner's seals: no pending flag from the server, no note; room
	// for a name of 21 columns in 80; the seal under a line with its
	// owner's id, which pasted into --owner lists the seal (as an
	// operator copies it from the terminal); --wide shows the owner on
	// each line and every column.
	out := op("seal", "list")
	header := strings.SplitN(out, "\n", 2)[0]
	if strings.Contains(header, "OWNER") || strings.Contains(out, sealPendingNote) || columnAt(header, "NAME")+21 > 80 {
		t.Errorf("seal list:\n%s", out)
	}
	lines := strings.Split(out, "\n")
	at := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, sl.ID) })
	if at < 2 {
		t.Fatalf("seal list: no owner line above the seal:\n%s", out)
	}
	pasted := strings.Fields(lines[at-1])[0]
	var mine struct{ Seals []operator.Seal }
	decode(t, op("seal", "list", "--owner", pasted, "--json"), &mine)
	if len(mine.Seals) != 1 || mine.Seals[0].ID != sl.ID {
		t.Errorf("seal list --owner %s (the owner's line of seal list): %+v\n%s", pasted, mine.Seals, out)
	}
	// An id cut as earlier versions printed it (from an old ticket) is
	// refused, not answered with an empty list.
	for _, args := range [][]string{
		{"seal", "list", "--owner", user.ID[:8] + "…"},
		{"seal", "add", "--owner", user.ID[:8] + "…", "--name", "某某建设有限公司 公章", "--kind", "official",
			"--image", pngFile, "--width-mm", "40", "--height-mm", "40"},
	} {
		code, stdout, stderr := cli(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
		if code != 2 || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q", args, code, stdout)
		}
		checkOneLine(t, stderr, "an id cut with …")
	}
	// An id cut without … (or mistyped) reaches the server, which refuses
	// it: one line naming the parameter, the code and the status, not an
	// empty list.
	for _, args := range [][]string{
		{"seal", "list", "--owner", user.ID[:8]},
		{"seal", "list", "--owner", user.ID[:len(user.ID)-1] + "o"},
		{"credential", "list", "--user", user.ID[:8]},
	} {
		code, stdout, stderr := cli(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
		if code == 0 || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q", args, code, stdout)
		}
		checkOneLine(t, stderr, "the server refused: "+args[2][2:]+": not a user id")
		checkOneLine(t, stderr, "[invalid_request, HTTP 400]")
	}
	out = op("seal", "list", "--wide")
	header = strings.SplitN(out, "\n", 2)[0]
	if got := headerCells(header); !slices.Equal(got, []string{"ID", "OWNER", "KIND", "SIZE MM", "ISSUER", "VER", "STATE", "NOT AFTER", "NAME"}) ||
		cellUnder(header, sealLine(out, sl.ID), "OWNER") != user.ID {
		t.Errorf("seal list --wide:\n%s", out)
	}
}
