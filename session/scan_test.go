package session_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/session"
)

// The scan sequence (session.Scanner) without HTTP.

var (
	errAppDisabled = errors.New("test: app disabled")
	errOfferFailed = errors.New("test: offer failed")
)

// scanSide is a session.ScanSide whose offer is the list of the calls it
// got; appErr and offerErr make those steps fail.
type scanSide struct {
	appErr, offerErr error
	calls            []string
}

func (k *scanSide) AppName(_ context.Context, appID string) (string, error) {
	k.calls = append(k.calls, "app "+appID)
	if k.appErr != nil {
		return "", k.appErr
	}
	return "招标平台", nil
}

func (k *scanSide) Offer(_ context.Context, s *session.Session, userID string) ([]string, error) {
	k.calls = append(k.calls, "offer "+string(s.State)+" "+userID)
	if k.offerErr != nil {
		return nil, k.offerErr
	}
	return []string{"cred_1"}, nil
}

func TestScanner(t *testing.T) {
	e := newEnv(t)
	side := &scanSide{}
	sc := &session.Scanner[[]string]{Sessions: e.svc, Side: side}
	c := e.create(t, loginParams())
	payload := e.svc.Payload(c.ID, c.nonce)

	got, err := sc.Scan(e.ctx, session.ScanRequest{Payload: payload, DeviceID: device, UserID: user})
	if err != nil {
		t.Fatal(err)
	}
	if got.Session.State != session.StateScanned || got.Session.DeviceID != device || got.AppName != "招标平台" ||
		!slices.Equal(got.Offer, []string{"cred_1"}) || !slices.Contains(got.CodeChoices[:], c.Code) {
		t.Fatalf("scanned %+v", got)
	}
	// The offer was read before the binding, while the session waited.
	if want := []string{"app " + app, "offer waiting " + user}; !slices.Equal(side.calls, want) {
		t.Fatalf("calls %q, want %q", side.calls, want)
	}
	// A second scan of the same payload is refused by the binding.
	if _, err := sc.Scan(e.ctx, session.ScanRequest{Payload: payload, DeviceID: device2, UserID: user}); !errors.Is(err, session.ErrAlreadyScanned) {
		t.Fatalf("second scan: %v", err)
	}
}

func TestScannerRefusals(t *testing.T) {
	tests := []struct {
		name    string
		side    scanSide
		payload func(e *env, c created) string
		want    error
		calls   int // calls of the side: a refusal before the app asks nothing
	}{
		{"foreign payload", scanSide{}, func(*env, created) string { return "https://elsewhere.example/q/x.y" }, qrlogin.ErrInvalidPayload, 0},
		{"wrong nonce", scanSide{}, func(e *env, c created) string {
			return e.svc.Payload(c.ID, strings.Repeat("A", len(c.nonce)))
		}, session.ErrNotFound, 0},
		{"app disabled", scanSide{appErr: errAppDisabled}, func(e *env, c created) string { return e.svc.Payload(c.ID, c.nonce) }, errAppDisabled, 1},
		{"offer fails", scanSide{offerErr: errOfferFailed}, func(e *env, c created) string { return e.svc.Payload(c.ID, c.nonce) }, errOfferFailed, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.create(t, loginParams())
			side := tt.side
			sc := &session.Scanner[[]string]{Sessions: e.svc, Side: &side}
			if _, err := sc.Scan(e.ctx, session.ScanRequest{Payload: tt.payload(e, c), DeviceID: device, UserID: user}); !errors.Is(err, tt.want) {
				t.Fatalf("Scan: %v, want %v", err, tt.want)
			}
			if len(side.calls) != tt.calls {
				t.Errorf("side calls %q, want %d", side.calls, tt.calls)
			}
			// Nothing changed: the session is still waiting, and scannable.
			if s := e.get(t, c.ID); s.State != session.StateWaiting {
				t.Fatalf("state %s after a refused scan", s.State)
			}
			if _, err := (&session.Scanner[[]string]{Sessions: e.svc, Side: &scanSide{}}).Scan(e.ctx,
				session.ScanRequest{Payload: e.svc.Payload(c.ID, c.nonce), DeviceID: device, UserID: user}); err != nil {
				t.Fatalf("scan after the refusal: %v", err)
			}
		})
	}
}
