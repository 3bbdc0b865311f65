package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/readcache"
)

// Phone side of the scan sessions: scan, confirm, reject. Every request is
// device-signed.

// ScanRequest is the body of POST /v1/scan.
type ScanRequest protocol.ScanRequest

// Validate checks the request's shape.
func (q *ScanRequest) Validate() error {
	return firstError(required("payload", q.Payload), maxBytes("payload", q.Payload, 4*qrlogin.MaxPayloadLen))
}

// ConfirmRequest is the body of POST /v1/sessions/{id}/confirm.
type ConfirmRequest protocol.ConfirmRequest

// Validate checks the request's shape.
func (q *ConfirmRequest) Validate() error {
	if len(q.Credentials) > 0 {
		if q.Credential != "" {
			return invalid("credential", "not with credentials")
		}
		if len(q.Credentials) > session.MaxHandover {
			return invalid("credentials", "at most %d", session.MaxHandover)
		}
		for i, c := range q.Credentials {
			if err := firstError(required(fmt.Sprintf("credentials[%d]", i), c), maxBytes(fmt.Sprintf("credentials[%d]", i), c, 128)); err != nil {
				return err
			}
		}
	} else if err := required("credential", q.Credential); err != nil {
		return err
	}
	return firstError(
		maxBytes("credential", q.Credential, 128),
		maxBytes("pin", q.PIN, maxPINLen),
		required("code", q.Code),
		maxBytes("code", q.Code, 8),
		optionalID("seal", q.Seal),
	)
}

// RejectRequest is the (optional, empty) body of POST
// /v1/sessions/{id}/reject.
type RejectRequest protocol.RejectRequest

// Validate accepts the empty object.
func (q *RejectRequest) Validate() error { return nil }

// signedDevice reads the body and checks the device signature over it.
func (a *API) signedDevice(w http.ResponseWriter, r *http.Request) (body []byte, deviceID, userID string, err error) {
	body, err = a.readBody(w, r)
	if err != nil {
		return nil, "", "", err
	}
	deviceID, userID, err = a.devices.VerifyDeviceRequest(r.Context(), r, body)
	if err != nil {
		return nil, "", "", err
	}
	return body, deviceID, userID, nil
}

// scanOffer is what the phone may confirm a scanned session with: the
// user's active credentials that fit it and, for a seal session, the
// seals it may draw.
type scanOffer struct {
	creds []*ca.Credential
	// delegated are organisations' credentials the user may use for this
	// session through a delegation (listed after creds).
	delegated []*ca.DelegatedCredential
	seals     []protocol.ScannedSeal
	// addressed is set for a CMS envelope: the credentials of the offer
	// it is addressed to (by id).
	addressed map[string]bool
}

// wire is the offer's credentials as the scan answers them: the user's
// own, then the delegated ones labelled with their organisation; for a
// CMS envelope, those it is addressed to (the user's own or an
// organisation's) first, so that the phone's default choice opens it.
func (o scanOffer) wire() []protocol.Credential {
	out := wireCredentials(o.creds)
	for _, dc := range o.delegated {
		w := wireCredential(dc.Credential)
		w.OnBehalfOf, w.OrganizationName, w.Delegation = dc.Delegation.Organization, dc.Delegation.OrganizationName, dc.Delegation.ID
		out = append(out, w)
	}
	if o.addressed != nil {
		for i := range out {
			out[i].Addressed = o.addressed[out[i].ID]
		}
		addressedFirst(out, func(c protocol.Credential) bool { return c.Addressed })
	}
	return out
}

// scanSide is the session.ScanSide of the api: the app registry and the
// CA.
type scanSide struct{ a *API }

// AppName is the name of an app that has not been disabled.
func (k scanSide) AppName(ctx context.Context, appID string) (string, error) {
	app, err := k.a.enabledApp(ctx, appID)
	if err != nil {
		return "", err
	}
	return app.Name, nil
}

// Offer lists userID's active credentials that can serve s and, for a
// seal session, the seals they can draw.
func (k scanSide) Offer(ctx context.Context, s *session.Session, userID string) (scanOffer, error) {
	all, err := k.a.ca.Credentials(ctx, ca.CredentialFilter{UserID: userID, State: ca.StateActive})
	if err != nil {
		return scanOffer{}, err
	}
	o := scanOffer{creds: []*ca.Credential{}}
	for _, c := range all {
		if session.CredentialFits(s, c.IssuerID, string(c.Alg), string(c.Purpose)) {
			o.creds = append(o.creds, c)
		}
	}
	if s.Kind == session.KindDecrypt && s.Request.CiphertextFormat == protocol.CipherCMS {
		o.addressed = map[string]bool{}
	}
	if s.Kind == session.KindDecrypt {
		if o.creds, err = k.withSuperseded(ctx, s, userID, o.creds, o.addressed); err != nil {
			return scanOffer{}, err
		}
	}
	dels, err := k.a.ca.DelegatedCredentials(ctx, userID)
	if err != nil {
		return scanOffer{}, err
	}
	for _, dc := range dels {
		c := dc.Credential
		if session.CredentialFits(s, c.IssuerID, string(c.Alg), string(c.Purpose)) && s.Kind != session.KindCertificate &&
			dc.Allows(string(s.Kind), s.AppID) {
			o.delegated = append(o.delegated, dc)
		}
	}
	if s.Kind == session.KindDecrypt {
		if o.delegated, err = k.withDelegatedSuperseded(ctx, s, userID, o.delegated, o.addressed); err != nil {
			return scanOffer{}, err
		}
	}
	if s.Kind == session.KindSeal {
		if o.seals, err = k.a.usableSeals(ctx, s, userID, o.creds); err != nil {
			return scanOffer{}, err
		}
		// The organisations' seals bound to the delegated credentials.
		for _, dc := range o.delegated {
			more, err := k.a.usableSeals(ctx, s, dc.Credential.UserID, []*ca.Credential{dc.Credential})
			if err != nil {
				return scanOffer{}, err
			}
			o.seals = append(o.seals, more...)
		}
	}
	return o, nil
}

// withSuperseded is the offer of a decrypt session: the active
// credentials creds, then the user's superseded encryption credentials
// that fit (renewed keys still open what was sealed to them). For a CMS
// envelope (addressed not nil) only the superseded ones it is addressed
// to, and addressed gets every credential it is addressed to (the wire
// answer puts those first: the phone's default choice).
func (k scanSide) withSuperseded(ctx context.Context, s *session.Session, userID string, creds []*ca.Credential, addressed map[string]bool) ([]*ca.Credential, error) {
	old, err := k.a.ca.Credentials(ctx, ca.CredentialFilter{UserID: userID, State: ca.StateSuperseded})
	if err != nil {
		return nil, err
	}
	for _, c := range creds {
		markAddressed(s, c, addressed)
	}
	for _, c := range old {
		if !supersededEncryption(c) || !session.CredentialFits(s, c.IssuerID, string(c.Alg), string(c.Purpose)) {
			continue
		}
		if markAddressed(s, c, addressed) || addressed == nil {
			creds = append(creds, c)
		}
	}
	return creds, nil
}

// withDelegatedSuperseded is withSuperseded for the organisations'
// credentials the user may use through a delegation: after the active
// ones (dels), the organisations' superseded encryption credentials whose
// copy an active delegation keeps (ca.DelegatedSuperseded) that fit the
// session and the delegation's scope; for a CMS envelope only those it is
// addressed to.
func (k scanSide) withDelegatedSuperseded(ctx context.Context, s *session.Session, userID string, dels []*ca.DelegatedCredential, addressed map[string]bool) ([]*ca.DelegatedCredential, error) {
	old, err := k.a.ca.DelegatedSuperseded(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, dc := range dels {
		markAddressed(s, dc.Credential, addressed)
	}
	for _, dc := range old {
		c := dc.Credential
		if !supersededEncryption(c) || !session.CredentialFits(s, c.IssuerID, string(c.Alg), string(c.Purpose)) ||
			!dc.Allows(string(s.Kind), s.AppID) {
			continue
		}
		if markAddressed(s, c, addressed) || addressed == nil {
			dels = append(dels, dc)
		}
	}
	return dels, nil
}

// markAddressed records in addressed (a CMS envelope's; nil for a raw
// ciphertext: false) whether s's envelope is addressed to c, and reports
// it.
func markAddressed(s *session.Session, c *ca.Credential, addressed map[string]bool) bool {
	if addressed == nil {
		return false
	}
	a := gmcrypto.CMSAddressedTo(s.Request.Ciphertext, c.Certificate)
	addressed[c.ID] = a
	return a
}

// addressedFirst moves the elements of list that addressed reports first,
// keeping the order otherwise.
func addressedFirst[T any](list []T, addressed func(T) bool) {
	slices.SortStableFunc(list, func(x, y T) int {
		ax, ay := addressed(x), addressed(y)
		switch {
		case ax == ay:
			return 0
		case ax:
			return -1
		}
		return 1
	})
}

func (a *API) scanner() *session.Scanner[scanOffer] {
	return &session.Scanner[scanOffer]{Sessions: a.sessions, Side: scanSide{a: a}}
}

func scannedView(s *session.Session, appName string, choices [3]string) protocol.ScannedSession {
	v := protocol.ScannedSession{
		ID: s.ID, Kind: s.Kind, App: protocol.ScannedApp{ID: s.AppID, Name: appName},
		Origin: s.Origin, Desktop: s.Desktop, Display: s.Request.Display,
		CodeChoices: choices[:], ExpiresAt: s.ExpiresAt,
		Issuer: s.Request.Issuer, Alg: s.Request.Alg,
	}
	switch s.Kind {
	case session.KindSign:
		v.Format = s.Request.Format
		for _, d := range s.Request.Documents {
			sd := protocol.ScannedDocument{Name: d.Name, Digest: hex.EncodeToString(session.DocumentDigest(d)), DigestAlg: protocol.DigestGiven}
			if d.Data != nil {
				n := len(d.Data)
				sd.Size, sd.DigestAlg = &n, protocol.DigestSM3
			}
			v.Documents = append(v.Documents, sd)
		}
	case session.KindSeal:
		v.Seal = s.Request.Seal
		for _, d := range s.Request.Documents {
			n := len(d.PDF)
			if d.Upload != "" {
				n = int(d.Size)
			}
			v.Documents = append(v.Documents, protocol.ScannedDocument{Name: d.Name, Size: &n,
				Digest: hex.EncodeToString(session.DocumentDigest(d)), DigestAlg: protocol.DigestSM3,
				Pages: d.Pages, Placements: d.Placements, Straddle: d.Straddle, FileText: d.FileText})
		}
	case session.KindDecrypt:
		v.Ciphertext = &protocol.ScannedCiphertext{
			Format: s.Request.CiphertextFormat, Size: len(s.Request.Ciphertext),
			SM3: hex.EncodeToString(gmcrypto.SM3(s.Request.Ciphertext)), ReturnKey: s.Request.ReturnKey,
		}
	}
	return v
}

func (a *API) scan(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsReady(); err != nil {
		return err
	}
	// The device nonce is consumed in the scan's own transaction; the
	// session record is read from the store once per request
	// (readcache.WithMemo).
	ctx, once := storage.DeferOnce(readcache.WithMemo(r.Context()))
	r = r.WithContext(ctx)
	sc, err := func() (*session.Scanned[scanOffer], error) {
		body, deviceID, userID, err := a.signedDevice(w, r)
		if err != nil {
			return nil, err
		}
		var req ScanRequest
		if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
			return nil, err
		}
		return a.scanner().Scan(ctx, session.ScanRequest{Payload: req.Payload, DeviceID: deviceID, UserID: userID})
	}()
	if err := once.Settle(ctx, err); err != nil {
		return err
	}
	view := scannedView(sc.Session, sc.AppName, sc.CodeChoices)
	a.sketchPages(r.Context(), sc.Session, sc.Offer.seals, view.Documents)
	writeJSON(w, http.StatusOK, protocol.ScanResponse{
		Session:     view,
		Credentials: sc.Offer.wire(),
		Seals:       sc.Offer.seals,
	})
	return nil
}

// sketchPages adds to a seal session's scanned documents the sketches of
// the pages their file_text spots are on (protocol.MaxScanSketches in
// all, document by document; the PDF read again, an upload from the
// upload store, checked against its SM3). The seals are drawn at the
// size of the offered seal, or of the largest when the user chooses among
// several (the most they may cover). A document that cannot be read
// again gets none: the scan does not fail for a sketch. What was drawn is
// kept for the session's next scan on this node (sketchCache).
func (a *API) sketchPages(ctx context.Context, s *session.Session, seals []protocol.ScannedSeal, docs []protocol.ScannedDocument) {
	if s.Kind != session.KindSeal || len(docs) != len(s.Request.Documents) {
		return
	}
	var wmm, hmm float64
	for _, sl := range seals {
		if sl.WidthMM*sl.HeightMM > wmm*hmm {
			wmm, hmm = sl.WidthMM, sl.HeightMM
		}
	}
	left := protocol.MaxScanSketches
	for i, d := range s.Request.Documents {
		if d.FileText == nil || left == 0 {
			continue
		}
		var pages []seal.SketchPage
		index := map[int]int{}
		for _, sp := range d.FileText.Spots {
			if sp.NotFound || sp.Page < 1 {
				continue
			}
			k, ok := index[sp.Page]
			if !ok {
				if left == 0 {
					continue
				}
				left--
				k = len(pages)
				index[sp.Page] = k
				pages = append(pages, seal.SketchPage{Page: sp.Page})
			}
			pages[k].Seals = append(pages[k].Seals, seal.SketchSeal{XMM: sp.XMM, YMM: sp.YMM, WidthMM: wmm, HeightMM: hmm})
		}
		if len(pages) == 0 {
			continue
		}
		key := sketchKey{session: s.ID, digest: docs[i].Digest, pages: sketchPagesSum(pages)}
		svgs := a.sketches.get(key)
		if svgs == nil {
			pdf := d.PDF
			if d.Upload != "" {
				b, err := uploadSource{a.uploads}.ReadUpload(ctx, s.AppID, s.ID, d.Upload)
				if err != nil || !bytes.Equal(gmcrypto.SM3(b), d.SM3) {
					continue
				}
				pdf = b
			}
			var err error
			if svgs, err = seal.Sketches(pdf, pages, protocol.HiddenRune); err != nil {
				continue
			}
			a.sketches.drawn.Add(1)
			a.sketches.put(key, svgs, s.ExpiresAt)
		}
		for k, p := range pages {
			if svgs[k] != "" {
				docs[i].Sketches = append(docs[i].Sketches, protocol.PageSketch{Page: p.Page, SVG: svgs[k]})
			}
		}
	}
}

// sketchPagesSum is the SM3 of what a scan draws on which pages: the
// pages and each seal's place and size, in order.
func sketchPagesSum(pages []seal.SketchPage) [32]byte {
	var b []byte
	f := func(v float64) { b = binary.BigEndian.AppendUint64(b, math.Float64bits(v)) }
	for _, p := range pages {
		b = binary.BigEndian.AppendUint32(b, uint32(p.Page))
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.Seals)))
		for _, sl := range p.Seals {
			f(sl.XMM)
			f(sl.YMM)
			f(sl.WidthMM)
			f(sl.HeightMM)
		}
	}
	return [32]byte(gmcrypto.SM3(b))
}

// enabledApp returns the app a session belongs to, or auth.ErrAppDisabled
// when the operator has disabled it since the session was created.
func (a *API) enabledApp(ctx context.Context, id string) (*auth.App, error) {
	app, err := a.apps.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if app.Disabled() {
		return nil, fmt.Errorf("%w: %s", auth.ErrAppDisabled, app.ID)
	}
	return app, nil
}

func (a *API) confirm(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsReady(); err != nil {
		return err
	}
	if a.audit == nil {
		return ErrAuditUnavailable
	}
	// The device nonce is consumed in the confirm's first transaction
	// (the claim); the session record is read from the store once per
	// request (readcache.WithMemo).
	ctx, once := storage.DeferOnce(readcache.WithMemo(r.Context()))
	r = r.WithContext(ctx)
	var id string
	sess, challenge, err := func() (*session.Session, json.RawMessage, error) {
		body, deviceID, userID, err := a.signedDevice(w, r)
		if err != nil {
			return nil, nil, err
		}
		if id, err = sessionPathID(r); err != nil {
			return nil, nil, err
		}
		var req ConfirmRequest
		if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
			return nil, nil, err
		}
		if req.Cosign != nil && req.PIN != "" {
			return nil, nil, invalid("pin", "not with a cosign answer")
		}
		creq := session.ConfirmRequest{
			SessionID: id, DeviceID: deviceID, UserID: userID,
			CredentialID: req.Credential, CredentialIDs: req.Credentials, PIN: req.PIN, Code: req.Code, SealID: req.Seal,
		}
		if req.Cosign != nil {
			if len(req.Cosign.Sign) > cosign.MaxSignatures {
				return nil, nil, invalid("cosign", "at most %d signatures", cosign.MaxSignatures)
			}
			if creq.Cosign, err = json.Marshal(req.Cosign); err != nil {
				return nil, nil, err
			}
		}
		return a.confirmer().Step(ctx, creq)
	}()
	if err := once.Settle(ctx, err); err != nil {
		return err
	}
	if challenge != nil {
		// First request of a cosign credential: the phone computes its
		// half and confirms again with the answer.
		writeJSON(w, http.StatusAccepted, protocol.CosignChallengeResponse{ID: id, State: session.StateScanned, Cosign: challenge})
		return nil
	}
	if !sess.Open() {
		a.sketches.forget(sess.ID)
	}
	writeJSON(w, http.StatusOK, protocol.SessionState{ID: sess.ID, State: sess.State})
	return nil
}

func (a *API) reject(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsReady(); err != nil {
		return err
	}
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	id, err := sessionPathID(r)
	if err != nil {
		return err
	}
	if len(body) > 0 {
		var req RejectRequest
		if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
			return err
		}
	}
	sess, err := a.sessions.Reject(r.Context(), id, deviceID)
	if err != nil {
		return err
	}
	a.sketches.forget(sess.ID)
	// The user's refusal outlives the session's events: a dispute over
	// "I refused to sign that" is answered from the audit log.
	a.auditAction(r.Context(), sessionEndEntry(actionSessionReject, actorDevice(deviceID), userID, sess))
	writeJSON(w, http.StatusOK, protocol.SessionState{ID: sess.ID, State: sess.State})
	return nil
}

// The audit actions of a session ended without a key use: the phone
// user refused it, the portal cancelled it.
const (
	actionSessionReject = "session.reject"
	actionSessionCancel = "session.cancel"
)

// sessionEndEntry is the audit entry of a session that action ended: the
// user (when bound), app, session, what it asked to be signed or
// decrypted (its digest) and its kind.
func sessionEndEntry(action, actor, userID string, s *session.Session) audit.Entry {
	if userID == "" {
		userID = s.UserID
	}
	e := audit.Entry{Action: action, Actor: actor, UserID: userID, AppID: s.AppID, SessionID: s.ID,
		Outcome: audit.OutcomeOK, Detail: "kind=" + string(s.Kind)}
	if d := session.RequestDigest(s); d != nil {
		e.Digest = hex.EncodeToString(d)
	}
	return e
}
