package session

import (
	"context"
	"fmt"

	"github.com/ukeygate/ukeygate/qrlogin"
)

// The scan of a QR payload by a phone, from the payload to the bound
// session and what the phone is shown: the QR nonce first, then
// everything the answer needs (the app, what the user may confirm with,
// the matching code's choices), then the binding. Scanner runs it over
// one small interface that the caller implements (ScanSide, over the app
// registry and the CA). It speaks no HTTP.

// ScanSide is what a scan asks outside the session package. O is what the
// phone is offered to confirm with (the api: the user's fitting
// credentials and seals); the session package never looks into it.
type ScanSide[O any] interface {
	// AppName returns the display name of the app of a session, or an
	// error when the app may no longer be served (it was disabled since
	// the session was created).
	AppName(ctx context.Context, appID string) (string, error)
	// Offer returns what user userID may confirm s with. It runs before
	// the scan binds s; its error is returned as is and leaves s
	// scannable.
	Offer(ctx context.Context, s *Session, userID string) (O, error)
}

// ScanRequest is one scan: the QR payload the phone read, and the device
// and user the request was signed by (the caller checked the signature).
type ScanRequest struct {
	Payload  string
	DeviceID string
	UserID   string
}

// Scanned is a session bound to the phone that scanned it, with what the
// phone is shown.
type Scanned[O any] struct {
	Session *Session
	// AppName is the display name of the session's app.
	AppName string
	// CodeChoices are the three matching codes the phone offers, the
	// session's among them.
	CodeChoices [3]string
	// Offer is what ScanSide.Offer gave.
	Offer O
}

// Scanner runs the scans of scan sessions. Sessions and Side are
// required.
type Scanner[O any] struct {
	Sessions *Service
	Side     ScanSide[O]
}

// Scan runs one scan:
//
//  1. the payload must be one of this gateway's (qrlogin.Parse against
//     the configured public URL; else qrlogin.ErrInvalidPayload);
//  2. the nonce (CheckNonce): a payload with a made-up nonce learns
//     nothing about the session (its app, its user, its state), only the
//     not-found of an unknown id;
//  3. the app (ScanSide.AppName) and the offer (ScanSide.Offer) are read
//     before the binding, so that a failure there leaves the session
//     scannable;
//  4. the binding (Service.ScanShown), with its refusals, and the code
//     choices drawn with it: the same device scanning again while the
//     session is still scanned (a second tab) gets the same answer.
func (c *Scanner[O]) Scan(ctx context.Context, req ScanRequest) (*Scanned[O], error) {
	if c.Sessions == nil || c.Side == nil {
		return nil, fmt.Errorf("%w: a Scanner needs Sessions and Side", ErrInvalidArgument)
	}
	id, nonce, err := qrlogin.Parse(req.Payload, c.Sessions.Config().PublicURL)
	if err != nil {
		return nil, err
	}
	before, err := c.Sessions.CheckNonce(ctx, id, nonce)
	if err != nil {
		return nil, err
	}
	out := &Scanned[O]{}
	if out.AppName, err = c.Side.AppName(ctx, before.AppID); err != nil {
		return nil, err
	}
	if out.Offer, err = c.Side.Offer(ctx, before, req.UserID); err != nil {
		return nil, err
	}
	if out.Session, out.CodeChoices, err = c.Sessions.ScanShown(ctx, id, nonce, req.DeviceID, req.UserID); err != nil {
		return nil, err
	}
	return out, nil
}
