package session

import (
	"context"
	"fmt"

	"github.com/ukeygate/ukeygate/seal"
)

// The creation of a scan session by a portal, from its checked request to
// the stored session and its QR payload: what the request names (issuer,
// user, seal) is checked against the registries outside the session
// package (Registry, over package ca), a seal session's PDFs are read
// once, then Service.Create stores it. Creator runs it. It speaks no HTTP.

// Registry checks what a new session's request names. Its errors are
// returned as they are; nothing is stored then.
type Registry interface {
	// CheckIssuer: the issuer exists and issues credentials of purpose
	// ("sign", "encrypt"; "" is any) with alg keys ("SM2", "RSA"; "" is any).
	CheckIssuer(ctx context.Context, issuer, alg, purpose string) error
	// CheckUser: the user exists.
	CheckUser(ctx context.Context, user string) error
	// CheckSeal: the seal exists, is active and, when user is not empty,
	// is that user's.
	CheckSeal(ctx context.Context, sealID, user string) error
	// ChainBytes is the DER size of the issuer's chain or, for "", of the
	// longest registered chain: what a result may carry besides the
	// signer's own certificate (CreateParams.ChainBytes).
	ChainBytes(ctx context.Context, issuer string) (int, error)
}

// Created is a new session with what only its creator gets.
type Created struct {
	Session *Session
	// Token is the watch token; Nonce the one-time QR nonce; Payload the
	// QR payload URL that holds it (Service.Payload).
	Token, Nonce, Payload string
}

// Creator creates scan sessions. Sessions and Registry are required.
type Creator struct {
	Sessions *Service
	Registry Registry
}

// Create creates the session p describes (p.Origin decided and checked
// against the app by the caller):
//
//  1. the issuer the request names, if any (Registry.CheckIssuer, for
//     the purpose of the kind and the requested algorithm);
//  2. the user it names, if any (Registry.CheckUser);
//  3. for a seal session: each PDF parses and its placements name its
//     pages (its page count is kept for the phone; else seal's errors),
//     and the seal it names, if any, is active and the user's
//     (Registry.CheckSeal);
//  4. the chain size a result may carry (Registry.ChainBytes, into
//     p.ChainBytes);
//  5. Service.Create, with its own checks of p.
func (c *Creator) Create(ctx context.Context, p CreateParams) (*Created, error) {
	if c.Sessions == nil || c.Registry == nil {
		return nil, fmt.Errorf("%w: a Creator needs Sessions and Registry", ErrInvalidArgument)
	}
	req := &p.Request
	if req.Issuer != "" {
		purpose := CredentialPurpose(p.Kind)
		if p.Kind == KindCertificate {
			purpose = "" // either purpose may be handed over
		}
		if err := c.Registry.CheckIssuer(ctx, req.Issuer, req.Alg, purpose); err != nil {
			return nil, err
		}
	}
	if req.User != "" {
		if err := c.Registry.CheckUser(ctx, req.User); err != nil {
			return nil, err
		}
	}
	if p.Kind == KindSeal {
		if err := readSealDocuments(req); err != nil {
			return nil, err
		}
		if req.Seal != "" {
			if err := c.Registry.CheckSeal(ctx, req.Seal, req.User); err != nil {
				return nil, err
			}
		}
	}
	var err error
	if p.ChainBytes, err = c.Registry.ChainBytes(ctx, req.Issuer); err != nil {
		return nil, err
	}
	s, token, nonce, err := c.Sessions.Create(ctx, p)
	if err != nil {
		return nil, err
	}
	return &Created{Session: s, Token: token, Nonce: nonce, Payload: c.Sessions.Payload(s.ID, nonce)}, nil
}

// readSealDocuments reads each PDF of a seal request once at creation: it
// must parse, and its placements name its pages; the page count is kept
// for the phone. A document without a PDF is left to Service.Create,
// which names the field.
func readSealDocuments(req *Request) error {
	for i := range req.Documents {
		d := &req.Documents[i]
		if len(d.PDF) == 0 {
			continue
		}
		n, err := seal.PageCount(d.PDF)
		if err != nil {
			return fmt.Errorf("%w (documents[%d])", err, i)
		}
		d.Pages = n
		for j, pl := range d.Placements {
			if pl.Keyword == "" && pl.Page > n {
				return fmt.Errorf("%w: documents[%d].placements[%d]: page %d, the document has %d", seal.ErrBadPlacement, i, j, pl.Page, n)
			}
		}
		if st := d.Straddle; st != nil && (st.LastPage > n || st.FirstPage > n || n < 2) {
			return fmt.Errorf("%w: documents[%d].straddle: the document has %d pages", seal.ErrBadPlacement, i, n)
		}
	}
	return nil
}
