package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/session"
)

// The creation sequence (session.Creator) without HTTP.

var errRefused = errors.New("test: refused by the registry")

// registry is a session.Registry that records its calls and refuses the
// one named by refuse.
type registry struct {
	refuse string
	calls  []string
}

func (g *registry) call(what string) error {
	g.calls = append(g.calls, what)
	if what == g.refuse {
		return errRefused
	}
	return nil
}

func (g *registry) CheckIssuer(_ context.Context, issuer, alg, purpose string) error {
	return g.call("issuer " + issuer + " " + alg + " " + purpose)
}

func (g *registry) CheckUser(_ context.Context, user string) error { return g.call("user " + user) }

func (g *registry) ChainBytes(_ context.Context, issuer string) (int, error) {
	return 0, g.call("chain " + issuer)
}

func (g *registry) CheckSeal(_ context.Context, sealID, user string) error {
	return g.call("seal " + sealID + " " + user)
}

func TestCreator(t *testing.T) {
	e := newEnv(t)
	g := &registry{}
	cr := &session.Creator{Sessions: e.svc, Registry: g}
	p := loginParams()
	p.Request.Issuer, p.Request.Alg, p.Request.User = "sm2", "SM2", user
	c, err := cr.Create(e.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Session.State != session.StateWaiting || c.Token == "" || c.Payload != e.svc.Payload(c.Session.ID, c.Nonce) {
		t.Fatalf("created %+v", c)
	}
	if want := []string{"issuer sm2 SM2 sign", "user " + user, "chain sm2"}; !slices.Equal(g.calls, want) {
		t.Fatalf("calls %q, want %q", g.calls, want)
	}
	// The payload scans: it holds the session's nonce.
	if _, err := e.svc.Scan(e.ctx, c.Session.ID, c.Nonce, device, user); err != nil {
		t.Fatal(err)
	}
}

func TestCreatorRefusals(t *testing.T) {
	sealParams := func() session.CreateParams {
		p := loginParams()
		p.Kind = session.KindSeal
		p.Request.Seal = "seal_1"
		p.Request.Documents = []session.Document{{Name: "bid.pdf", PDF: []byte("%PDF-1.7 not really")}}
		return p
	}
	tests := []struct {
		name   string
		params func() session.CreateParams
		refuse string
		want   error
	}{
		{"issuer", func() session.CreateParams {
			p := loginParams()
			p.Request.Issuer = "rsa"
			return p
		}, "issuer rsa  sign", errRefused},
		{"user", func() session.CreateParams {
			p := loginParams()
			p.Request.User = "user_2"
			return p
		}, "user user_2", errRefused},
		{"unreadable PDF", sealParams, "", seal.ErrBadPDF},
		{"bad request", func() session.CreateParams {
			p := loginParams()
			p.Origin = ""
			return p
		}, "", session.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cr := &session.Creator{Sessions: e.svc, Registry: &registry{refuse: tt.refuse}}
			before := e.storeSize(t)
			if _, err := cr.Create(e.ctx, tt.params()); !errors.Is(err, tt.want) {
				t.Fatalf("Create: %v, want %v", err, tt.want)
			}
			if after := e.storeSize(t); after != before {
				t.Fatalf("a refused creation stored something: %d keys, then %d", before, after)
			}
		})
	}
}

// TestCreatorExcerptsFit: the excerpts of a seal session's documents
// (what the phone shows as read by the gateway) fit MaxExcerptBytes
// together however many documents there are and however their text
// reads, and every document keeps its first line and the line nearest to
// its first spot, the last one too.
func TestCreatorExcerptsFit(t *testing.T) {
	// "<" is escaped in JSON (\u003c): the costliest character there is.
	worst := strings.Repeat("<", 90)
	tests := []struct {
		name  string
		docs  int
		lines []string
		level seal.ExcerptLimits // the limits every document gets
	}{
		{"one document", 1, []string{worst, worst, worst, worst + " [S]", worst}, seal.DefaultExcerptLimits},
		{"the most documents", session.MaxSealDocuments, []string{worst, worst, worst, worst + " [S]", worst}, seal.ExcerptLimits{FirstLines: 1, Spots: 2, SpotLines: 1, LineRunes: 32}},
		{"the most short ones", session.MaxSealDocuments, []string{"Bid", "[S]"}, seal.DefaultExcerptLimits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cr := &session.Creator{Sessions: e.svc, Registry: &registry{}}
			p := loginParams()
			p.Kind = session.KindSeal
			pdf := seal.TextPDF([][]string{tt.lines})
			for i := 0; i < tt.docs; i++ {
				p.Request.Documents = append(p.Request.Documents, session.Document{Name: fmt.Sprintf("%03d.pdf", i), PDF: pdf,
					Placements: []seal.Placement{{Keyword: "[S]"}, {Page: 1, XMM: 30, YMM: 30}, {Keyword: "[S]"}}})
			}
			c, err := cr.Create(e.ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.svc.Get(e.ctx, c.Session.ID)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, d := range got.Request.Documents {
				b, _ := json.Marshal(d.FileText)
				total += len(b)
				want, err := seal.ReadExcerpt(pdf, d.Placements, protocol.HiddenRune)
				if err != nil {
					t.Fatal(err)
				}
				if w, _ := json.Marshal(want.Limit(tt.level)); string(w) != string(b) {
					t.Fatalf("%s: excerpt\n%s\nwant\n%s", d.Name, b, w)
				}
				if d.FileText.Pages != 1 || len(d.FileText.First.Lines) == 0 || len(d.FileText.Spots) == 0 || len(d.FileText.Spots[0].Lines) == 0 {
					t.Fatalf("%s: excerpt %s", d.Name, b)
				}
			}
			if total > session.MaxExcerptBytes {
				t.Fatalf("%d bytes of excerpts", total)
			}
		})
	}
}
