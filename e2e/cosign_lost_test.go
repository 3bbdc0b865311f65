package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
)

// loseAnswers lets the gateway act on the first n requests to a path and
// loses their answers, as a network that drops the connection after the
// request went does.
type loseAnswers struct {
	path string
	n    atomic.Int32
}

var errLostAnswer = errors.New("the answer was lost on the way")

func (l *loseAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.URL.Path != l.path || l.n.Add(-1) < 0 {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errLostAnswer
}

// TestCosignRequestAnswerLost: the reference phone client (the CLI's)
// keeps the seed of a two-party credential request aside, saved, before
// the request goes; when the answer is lost, asking again sends the same
// share and gets the credential the gateway made (not credential_exists),
// whose key signs (checked by tjfoc and OpenSSL). A PIN change before
// that is refused with advice, and nothing is left pending after.
func TestCosignRequestAnswerLost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	op := &operator.Client{BaseURL: w.ts.URL, Token: w.ts.AdminToken}
	if _, err := op.AddIssuer(ctx, seed.Generated(cosignIssuer, "SM2", "e2e cosign Root")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "phone.json")
	saves := 0
	w.phone.Persist = func(st *phone.State) error { saves++; return st.Save(path) }
	lose := &loseAnswers{path: "/v1/me/credentials"}
	lose.n.Store(1)
	w.phone.HTTP = &http.Client{Transport: lose}

	if _, err := w.phone.RequestCosignCredential(ctx, cosignIssuer, "sign", testPIN); !errors.Is(err, errLostAnswer) {
		t.Fatalf("first request: %v, want the lost answer", err)
	}
	saved, err := phone.LoadState(path)
	if err != nil || saves != 1 || len(saved.CosignPending[cosignIssuer+"/sign"]) == 0 {
		t.Fatalf("the share was not saved before the request (saves %d, %v)", saves, err)
	}
	if err := w.phone.ChangePIN(ctx, testPIN, "802461"); !errors.Is(err, phone.ErrCosignPending) {
		t.Fatalf("a PIN change with a request unanswered: %v", err)
	}

	// The phone starts again from the saved file and asks again.
	again := &phone.Client{BaseURL: w.ts.URL, State: saved}
	cred, err := again.RequestCosignCredential(ctx, cosignIssuer, "sign", testPIN)
	if err != nil {
		t.Fatalf("asked again: %v", err)
	}
	if cred.Mode != "cosign" || cred.State != "active" || len(again.State.Cosign[cred.ID]) == 0 || len(again.State.CosignPending) != 0 {
		t.Fatalf("credential %+v, seeds %d, pending %d", cred, len(again.State.Cosign), len(again.State.CosignPending))
	}
	list, err := again.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range list {
		if c.Mode == "cosign" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d cosign credentials, want the one made by the lost request", n)
	}

	data := []byte("signed with the credential whose answer was lost")
	s, err := w.pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindSign, Issuer: cosignIssuer, Alg: "SM2", Origin: testOrigin,
		Format: portal.FormatRaw, Documents: []portal.Document{{Name: "lost.txt", Data: data}},
		Display: portal.Display{Title: "e2e cosign", Summary: "lost answer"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if state, err := again.Confirm(ctx, s.ID, cred.ID, testPIN, s.Code); err != nil || state != portal.StateCompleted {
		t.Fatalf("confirm: %q %v", state, err)
	}
	got, err := w.pc.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := got.Sign()
	if err != nil {
		t.Fatal(err)
	}
	w.checkRaw(t, "SM2", cred.CertificatePEM, data, res.Documents[0].Signature)
	if err := again.ChangePIN(ctx, testPIN, "802461"); err != nil {
		t.Fatalf("PIN change once settled: %v", err)
	}
}
