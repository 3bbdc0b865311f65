package session

import (
	"context"
	"encoding/json"
	"fmt"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
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

// UploadStore holds the PDFs portals upload before a seal session (the
// api implements it over package upload). Its errors are returned as they
// are.
type UploadStore interface {
	// OpenUpload returns the bytes of app's upload id, which must not be
	// claimed or expired.
	OpenUpload(ctx context.Context, appID, uploadID string) ([]byte, error)
	// ClaimUpload takes app's upload id for a session being created
	// (single use), with a claim token the caller made.
	ClaimUpload(ctx context.Context, appID, uploadID, claim string) error
	// BindUpload ties the claimed upload to the created session.
	BindUpload(ctx context.Context, appID, uploadID, claim, sessionID string) error
	// ReleaseUpload gives back a claim whose session was not created.
	ReleaseUpload(ctx context.Context, appID, uploadID, claim string) error
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
	// Uploads gives the seal documents sent as uploads; required for
	// those only.
	Uploads UploadStore
}

// Create creates the session p describes (p.Origin decided and checked
// against the app by the caller):
//
//  1. the issuer the request names, if any (Registry.CheckIssuer, for
//     the purpose of the kind and the requested algorithm);
//  2. the user it names, if any (Registry.CheckUser);
//  3. for a seal session: each PDF (inline, or read from its upload, whose
//     size and SM3 are kept) parses and its placements name its pages
//     (its page count and what the gateway reads in it, seal.Excerpt, are
//     kept for the phone; else seal's errors), and the seal it names, if
//     any, is active and the user's (Registry.CheckSeal);
//  4. the chain size a result may carry (Registry.ChainBytes, into
//     p.ChainBytes);
//  5. the uploads claimed (UploadStore.ClaimUpload: single use);
//  6. Service.Create, with its own checks of p; the uploads are then bound
//     to the session (released if it was not created; the session is
//     cancelled if they cannot be bound).
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
		if err := c.readUploads(ctx, p.AppID, req); err != nil {
			return nil, err
		}
		if err := readSealDocuments(req); err != nil {
			return nil, err
		}
		fitExcerpts(req)
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
	claims, err := c.claimUploads(ctx, p.AppID, req)
	if err != nil {
		return nil, err
	}
	s, token, nonce, err := c.Sessions.Create(ctx, p)
	if err != nil {
		c.releaseUploads(ctx, p.AppID, claims)
		return nil, err
	}
	for _, cl := range claims {
		if err := c.Uploads.BindUpload(ctx, p.AppID, cl.id, cl.token, s.ID); err != nil {
			_, _ = c.Sessions.Cancel(context.WithoutCancel(ctx), s.ID, p.AppID)
			return nil, err
		}
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
		if err := readSealPDF(i, d, d.PDF); err != nil {
			return err
		}
	}
	return nil
}

// readSealPDF checks document i's PDF (inline or uploaded) and keeps its
// page count and excerpt (read in one parse).
func readSealPDF(i int, d *Document, pdf []byte) error {
	e, err := seal.ReadExcerpt(pdf, d.Placements, protocol.HiddenRune)
	if err != nil {
		return fmt.Errorf("%w (documents[%d])", err, i)
	}
	n := e.Pages
	d.Pages, d.FileText = n, e
	for j, pl := range d.Placements {
		if pl.Keyword == "" && pl.Page > n {
			return fmt.Errorf("%w: documents[%d].placements[%d]: page %d, the document has %d", seal.ErrBadPlacement, i, j, pl.Page, n)
		}
	}
	if st := d.Straddle; st != nil && (st.LastPage > n || st.FirstPage > n || n < 2) {
		return fmt.Errorf("%w: documents[%d].straddle: the document has %d pages", seal.ErrBadPlacement, i, n)
	}
	return nil
}

// MaxExcerptBytes bounds the excerpts a seal session keeps in its
// record until it ends (their JSON, all documents together): fitExcerpts
// shortens them level by level (excerptLevels) until they fit. The last
// level keeps one line of page 1 and one spot of one line, of 24
// characters, per document: about 10 KiB for MaxSealDocuments documents
// at worst (every character escaped in JSON), however they read.
const MaxExcerptBytes = 24 << 10

// excerptLevels are the limits fitExcerpts tries, in order.
var excerptLevels = []seal.ExcerptLimits{
	seal.DefaultExcerptLimits,
	{FirstLines: 2, Spots: 4, SpotLines: 2, LineRunes: 48},
	{FirstLines: 1, Spots: 2, SpotLines: 1, LineRunes: 32},
	{FirstLines: 1, Spots: 1, SpotLines: 1, LineRunes: 24},
}

// fitExcerpts makes the excerpts of req's documents fit
// MaxExcerptBytes, every document at the same level (one with many
// documents cannot push the last one's text out).
func fitExcerpts(req *Request) {
	for _, lim := range excerptLevels {
		n := 0
		for i := range req.Documents {
			d := &req.Documents[i]
			if d.FileText == nil {
				continue
			}
			d.FileText = d.FileText.Limit(lim)
			b, _ := json.Marshal(d.FileText)
			n += len(b)
		}
		if n <= MaxExcerptBytes {
			return
		}
	}
}

// readUploads reads each uploaded PDF of a seal request (the app's, not
// claimed, not expired), checks it as readSealDocuments checks inline
// ones, and records its size and SM3 in the request.
func (c *Creator) readUploads(ctx context.Context, appID string, req *Request) error {
	for i := range req.Documents {
		d := &req.Documents[i]
		if d.Upload == "" {
			continue
		}
		if len(d.PDF) > 0 {
			return badRequest(fmt.Sprintf("documents[%d].upload", i), "has pdf and upload: give one")
		}
		if c.Uploads == nil {
			return fmt.Errorf("%w: no upload store", ErrInvalidArgument)
		}
		pdf, err := c.Uploads.OpenUpload(ctx, appID, d.Upload)
		if err != nil {
			return fmt.Errorf("%w (documents[%d])", err, i)
		}
		if err := readSealPDF(i, d, pdf); err != nil {
			return err
		}
		d.Size, d.SM3 = int64(len(pdf)), gmcrypto.SM3(pdf)
	}
	return nil
}

// uploadClaim is one upload claimed for a session being created.
type uploadClaim struct{ id, token string }

// claimUploads claims each upload a seal request names.
func (c *Creator) claimUploads(ctx context.Context, appID string, req *Request) ([]uploadClaim, error) {
	var claims []uploadClaim
	for i, d := range req.Documents {
		if d.Upload == "" {
			continue
		}
		tok, err := randomToken(16)
		if err != nil {
			c.releaseUploads(ctx, appID, claims)
			return nil, err
		}
		if err := c.Uploads.ClaimUpload(ctx, appID, d.Upload, tok); err != nil {
			c.releaseUploads(ctx, appID, claims)
			return nil, fmt.Errorf("%w (documents[%d])", err, i)
		}
		claims = append(claims, uploadClaim{id: d.Upload, token: tok})
	}
	return claims, nil
}

// releaseUploads gives back claims whose session was not created (one
// that cannot be given back lapses: the upload sweeper frees it).
func (c *Creator) releaseUploads(ctx context.Context, appID string, claims []uploadClaim) {
	for _, cl := range claims {
		_ = c.Uploads.ReleaseUpload(context.WithoutCancel(ctx), appID, cl.id, cl.token)
	}
}
