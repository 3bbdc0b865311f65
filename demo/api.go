package demo

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
)

// Demo backend limits.
const (
	// demoMaxUpload bounds a file to sign: its base64 in the JSON body, to
	// the demo and then to the gateway, stays under the gateway's default
	// http.max_body_bytes (1 MiB).
	demoMaxUpload  = 512 << 10
	demoMaxBody    = demoMaxUpload*4/3 + 4096
	demoSmallBody  = 4096
	demoCallTimout = 30 * time.Second
	demoMinTTL     = 3
	demoMaxTTL     = 600
)

func parseTTL(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < demoMinTTL || n > demoMaxTTL {
		return 0, false
	}
	return n, true
}

// demoError is the demo API's error answer, in the gateway's format.
func demoError(w http.ResponseWriter, status int, code, msg string) {
	demoJSON(w, status, protocol.ErrorEnvelope{Error: protocol.ErrorBody{Code: code, Message: msg}})
}

func demoJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sameOrigin refuses cross-site requests: browsers send Sec-Fetch-Site or
// Origin on every cross-site POST; a request with neither comes from a
// non-browser client, which cannot ride the visitor's cookie.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	return true
}

// decodeBody reads a JSON body of at most limit bytes into v, refusing
// unknown fields and trailing data.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		demoError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			demoError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
		} else {
			demoError(w, http.StatusBadRequest, "bad_request", "malformed JSON: "+err.Error())
		}
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		demoError(w, http.StatusBadRequest, "bad_request", "trailing data after the JSON object")
		return false
	}
	return true
}

// api dispatches the demo backend's JSON endpoints.
func (d *demo) api(w http.ResponseWriter, r *http.Request, name string) {
	if name == "download" {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			demoError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		d.download(w, r)
		return
	}
	handlers := map[string]func(http.ResponseWriter, *http.Request, *demoVisitor){
		"login":              d.apiLogin,
		"login/finish":       d.apiLoginFinish,
		"logout":             d.apiLogout,
		"sign":               d.apiSign,
		"sign/finish":        d.apiSignFinish,
		"seal":               d.apiSeal,
		"seal/finish":        d.apiSealFinish,
		"open/submit":        d.apiOpenSubmit,
		"open/submit/finish": d.apiOpenSubmitFinish,
		"open":               d.apiOpen,
		"open/finish":        d.apiOpenFinish,
	}
	h, ok := handlers[name]
	if !ok {
		demoError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		demoError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	if !sameOrigin(r) {
		demoError(w, http.StatusForbidden, "cross_origin", "cross-site request refused")
		return
	}
	h(w, r, d.visitor(w, r))
}

// gatewayFailed answers for a failed gateway call, passing on the
// gateway's stable code (never its full message, which may name internals).
func (d *demo) gatewayFailed(w http.ResponseWriter, step string, err error) {
	d.cfg.Logger.Warn("demo: gateway call failed", "step", step, "err", err)
	var ae *portal.APIError
	if errors.As(err, &ae) && ae.Code != "" {
		status := http.StatusBadGateway
		if ae.Status >= 400 && ae.Status < 500 {
			status = ae.Status
		}
		demoError(w, status, ae.Code, step+": "+ae.Message)
		return
	}
	demoError(w, http.StatusBadGateway, "gateway_unavailable", step+": the gateway did not answer")
}

func (d *demo) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), demoCallTimout)
}

// verifyAtGateway asks the gateway for its verdict on a signature and its
// certificate (chain, usage, revocation); it answers the failure itself
// (ok false): a failed call as gatewayFailed, a refusal as 403 code with
// refused and the gateway's reason.
func (d *demo) verifyAtGateway(w http.ResponseWriter, r *http.Request, req portal.VerifyRequest, code, refused string) (*portal.VerifyResponse, bool) {
	ctx, cancel := d.ctx(r)
	defer cancel()
	vr, err := d.client.Verify(ctx, req)
	if err != nil {
		d.gatewayFailed(w, "verify", err)
		return nil, false
	}
	if !vr.Valid {
		demoError(w, http.StatusForbidden, code, refused+": "+vr.Reason)
		return nil, false
	}
	return vr, true
}

// loggedIn is the visitor's identity; without one it answers
// login_required itself (nil).
func (d *demo) loggedIn(w http.ResponseWriter, v *demoVisitor) *demoIdentity {
	id := d.store.identity(v)
	if id == nil {
		demoError(w, http.StatusUnauthorized, "login_required", "log in first")
	}
	return id
}

// createSession creates a session for v and remembers it as pending.
func (d *demo) createSession(w http.ResponseWriter, r *http.Request, v *demoVisitor, req portal.SessionRequest, ttl int, p *demoPending) {
	if ttl == 0 && d.cfg.SessionTTL > 0 {
		ttl = int(d.cfg.SessionTTL / time.Second)
	}
	req.TTLSeconds = ttl
	req.Origin = d.cfg.Origin
	req.Desktop = &portal.Desktop{IP: clientIP(r), UserAgent: r.UserAgent()}
	ctx, cancel := d.ctx(r)
	defer cancel()
	s, err := d.client.CreateSession(ctx, req)
	if err != nil {
		d.gatewayFailed(w, "create session", err)
		return
	}
	p.kind, p.created = string(req.Kind), time.Now()
	d.store.with(v, func(v *demoVisitor) {
		limitMap(v.sessions, func(p *demoPending) time.Time { return p.created })
		v.sessions[s.ID] = p
	})
	// The widget gets exactly the creation answer's public part (the
	// watch token is the only secret and is scoped to this session).
	demoJSON(w, http.StatusCreated, protocol.SessionCreated{
		ID: s.ID, State: s.State, ExpiresAt: s.ExpiresAt, Code: s.Code, QR: s.QR, Watch: s.Watch,
	})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// finishSession looks up a pending session of v by id and kind, and reads
// it from the gateway; it answers the failure itself (ok false).
func (d *demo) finishSession(w http.ResponseWriter, r *http.Request, v *demoVisitor, kind string) (*portal.Session, *demoPending, bool) {
	var body struct {
		Session string `json:"session"`
	}
	if !decodeBody(w, r, demoSmallBody, &body) {
		return nil, nil, false
	}
	var p *demoPending
	d.store.with(v, func(v *demoVisitor) { p = v.sessions[body.Session] })
	if p == nil || p.kind != kind {
		demoError(w, http.StatusNotFound, "session_not_found", "no such session of this visitor")
		return nil, nil, false
	}
	ctx, cancel := d.ctx(r)
	defer cancel()
	// The result is never taken from the browser: it comes from the
	// webhook (webhook.go) once the gateway says the session completed,
	// else it is read from the gateway with the app key.
	s, ok := d.hooks.get(body.Session)
	if !ok {
		var err error
		if s, err = d.client.GetSession(ctx, body.Session); err != nil {
			d.gatewayFailed(w, "read session", err)
			return nil, nil, false
		}
		if s.State == portal.StateCompleted {
			// Completed, and the webhook is on its way.
			if hs, ok := d.resultFromWebhook(ctx, body.Session); ok {
				s = hs
			}
		}
	}
	if s.State != portal.StateCompleted {
		demoError(w, http.StatusConflict, "session_not_completed", "session is "+string(s.State))
		return nil, nil, false
	}
	d.store.with(v, func(v *demoVisitor) { delete(v.sessions, body.Session) })
	return s, p, true
}

type ttlBody struct {
	TTLSeconds int `json:"ttl_seconds,omitempty"`
}

func (b ttlBody) ttl() int {
	if n, ok := parseTTL(strconv.Itoa(b.TTLSeconds)); ok {
		return n
	}
	return 0
}

func (d *demo) langOf(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "zh" || l == "en" {
		return l
	}
	return d.cfg.Lang
}

func (d *demo) apiLogin(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	var body ttlBody
	if !decodeBody(w, r, demoSmallBody, &body) {
		return
	}
	title, summary := "登录 阳光采购平台（演示）", "扫码登录，无需 UKEY"
	if d.langOf(r) == "en" {
		title, summary = "Log in to the procurement portal (demo)", "QR login instead of a USB key"
	}
	d.createSession(w, r, v, portal.SessionRequest{Kind: portal.KindLogin, Display: portal.Display{Title: title, Summary: summary}},
		body.ttl(), &demoPending{})
}

func (d *demo) apiLoginFinish(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	s, _, ok := d.finishSession(w, r, v, string(portal.KindLogin))
	if !ok {
		return
	}
	res, err := s.Login()
	if err != nil {
		d.gatewayFailed(w, "login result", err)
		return
	}
	// 1. Offline checks any portal can make (challenge, time, signature).
	vl, err := portal.VerifyLogin(res, portal.LoginExpect{Session: s.ID, App: d.cfg.AppID, Origin: d.cfg.Origin})
	if err != nil {
		d.cfg.Logger.Warn("demo: login result refused", "session", s.ID, "err", err)
		demoError(w, http.StatusForbidden, "login_invalid", err.Error())
		return
	}
	// 2. The gateway's verdict on the certificate (chain, usage,
	// revocation), and that this is its login session's very result.
	vr, ok := d.verifyAtGateway(w, r, portal.VerifyRequest{Data: res.Challenge, Signature: res.Signature, CertificatePEM: res.CertificatePEM},
		"login_invalid", "the gateway did not accept the certificate")
	if !ok {
		return
	}
	if vr.LoginSession == nil || !*vr.LoginSession {
		d.cfg.Logger.Warn("demo: not the result of a login session", "session", s.ID)
		demoError(w, http.StatusForbidden, "login_invalid", "the gateway does not know this login")
		return
	}
	c := vl.Certificate
	alg, _ := gmcrypto.KeyAlg(c.PublicKey)
	id := &demoIdentity{
		Name: c.Subject.CommonName, User: vl.User, Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		Serial: strings.ToUpper(c.SerialNumber.Text(16)), NotAfter: c.NotAfter,
		NotAfterText: c.NotAfter.UTC().Format("2006-01-02 15:04 MST"), Alg: string(alg),
	}
	if id.Name == "" {
		id.Name = vl.User
	}
	// A new visitor id for the logged-in visitor (no session fixation).
	d.rotate(w, r, v, func(v *demoVisitor) { v.login = id })
	demoJSON(w, http.StatusOK, id)
}

func (d *demo) apiLogout(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	var body struct{}
	if !decodeBody(w, r, demoSmallBody, &body) {
		return
	}
	d.rotate(w, r, v, func(v *demoVisitor) {
		v.login = nil
		clear(v.bids)
	})
	demoJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// apiSign creates a sign session (CMS detached) over a sample or an
// uploaded file.
func (d *demo) apiSign(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	var body struct {
		Sample     string `json:"sample,omitempty"`
		Name       string `json:"name,omitempty"`
		Data       []byte `json:"data,omitempty"`
		TTLSeconds int    `json:"ttl_seconds,omitempty"`
	}
	if !decodeBody(w, r, demoMaxBody, &body) {
		return
	}
	var name string
	var data []byte
	switch {
	case body.Sample != "" && body.Data == nil:
		s, ok := findSample(body.Sample)
		if !ok {
			demoError(w, http.StatusBadRequest, "bad_request", "unknown sample")
			return
		}
		name, data = s.File, mustSample(s.File)
	case body.Sample == "" && len(body.Data) > 0:
		name = cleanName(body.Name)
		data = body.Data
		if len(data) > demoMaxUpload {
			demoError(w, http.StatusRequestEntityTooLarge, "too_large", "files up to 512 KB")
			return
		}
	default:
		demoError(w, http.StatusBadRequest, "bad_request", "give a sample or a file")
		return
	}
	sum := gmcrypto.SM3(data)
	title, summary := "签署投标文件", fmt.Sprintf("%s（%d 字节，SM3 %s…）", name, len(data), hex.EncodeToString(sum[:8]))
	if d.langOf(r) == "en" {
		title, summary = "Sign a bid document", fmt.Sprintf("%s (%d bytes, SM3 %s…)", name, len(data), hex.EncodeToString(sum[:8]))
	}
	req := portal.SessionRequest{
		Kind: portal.KindSign, Format: portal.FormatCMSDetached,
		Documents: []portal.Document{{Name: name, Data: data}},
		Display:   portal.Display{Title: title, Summary: summary},
	}
	if id := d.store.identity(v); id != nil {
		req.User = id.User
	}
	d.createSession(w, r, v, req, ttlBody{body.TTLSeconds}.ttl(), &demoPending{name: name, data: data})
}

// cleanName keeps a safe file name for display and Content-Disposition.
func cleanName(n string) string {
	n = path.Base(strings.ReplaceAll(n, "\\", "/"))
	var b strings.Builder
	for _, r := range n {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`"/\:*?<>|;`, r) {
			r = '_'
		}
		b.WriteRune(r)
	}
	n = strings.TrimSpace(b.String())
	if n == "" || n == "." || n == ".." {
		n = "document"
	}
	for len(n) > 120 {
		_, size := utf8.DecodeLastRuneInString(n)
		n = n[:len(n)-size]
	}
	return n
}

func mustSample(file string) []byte {
	b, err := fs.ReadFile(demoFS, "samples/"+file)
	if err != nil {
		panic("portal: embedded sample missing: " + file)
	}
	return b
}

func (d *demo) apiSignFinish(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	s, p, ok := d.finishSession(w, r, v, string(portal.KindSign))
	if !ok {
		return
	}
	res, err := s.Sign()
	if err != nil || len(res.Documents) != 1 || len(res.Documents[0].CMS) == 0 {
		d.gatewayFailed(w, "sign result", fmt.Errorf("%w: want one CMS document", portal.ErrProtocol))
		return
	}
	cms := res.Documents[0].CMS
	// Our own check of the signature (any CMS library would do) ...
	if _, err := gmcrypto.VerifyCMS(cms, p.data); err != nil {
		demoError(w, http.StatusForbidden, "signature_invalid", "the CMS signature does not verify over the document")
		return
	}
	// ... and the gateway's verdict on the signer's certificate.
	vr, ok := d.verifyAtGateway(w, r, portal.VerifyRequest{Data: p.data, CMS: cms},
		"signature_invalid", "the gateway did not accept the signature")
	if !ok {
		return
	}
	fileID := randomID()
	d.store.with(v, func(v *demoVisitor) {
		limitMap(v.files, func(f *demoFile) time.Time { return f.created })
		v.files[fileID] = &demoFile{name: p.name + ".p7s", cms: cms, created: time.Now()}
	})
	demoJSON(w, http.StatusOK, map[string]any{
		"file":     p.name + ".p7s",
		"size":     len(cms),
		"download": d.cfg.Prefix + "/api/download?id=" + url.QueryEscape(fileID),
		"signer":   vr.Signer,
		"valid":    true,
	})
}

// download serves a signature the visitor made.
func (d *demo) download(w http.ResponseWriter, r *http.Request) {
	v := d.visitor(w, r)
	id := r.URL.Query().Get("id")
	var f *demoFile
	d.store.with(v, func(v *demoVisitor) { f = v.files[id] })
	if f == nil {
		demoError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	h := w.Header()
	ct := f.contentType
	if ct == "" {
		ct = "application/pkcs7-signature"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.name}))
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(f.cms)
}

// apiOpenSubmit starts a bid submission the way bidding portals do: a
// certificate session in which the bidder hands over their encryption
// certificate by scanning (no operator-given user id, no PIN);
// apiOpenSubmitFinish then seals the bid to it.
func (d *demo) apiOpenSubmit(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	var body ttlBody
	if !decodeBody(w, r, demoSmallBody, &body) {
		return
	}
	if d.loggedIn(w, v) == nil {
		return
	}
	title, summary := "提交投标：提供加密证书", "投标文件将用您的加密证书加密（数字信封），开标时由您解密。"
	if d.langOf(r) == "en" {
		title, summary = "Bid submission: hand over your encryption certificate", "The bid is sealed to your encryption certificate (a digital envelope); you open it at the bid opening."
	}
	d.createSession(w, r, v, portal.SessionRequest{
		Kind: portal.KindCertificate, Display: portal.Display{Title: title, Summary: summary},
	}, body.ttl(), &demoPending{})
}

// apiOpenSubmitFinish seals the sample bid to the encryption certificate
// the bidder handed over (an EnvelopedData made here, at the portal, from
// the certificate alone), and remembers who may open it.
func (d *demo) apiOpenSubmitFinish(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	s, _, ok := d.finishSession(w, r, v, string(portal.KindCertificate))
	if !ok {
		return
	}
	res, err := s.Certificate()
	if err != nil {
		d.gatewayFailed(w, "certificate result", err)
		return
	}
	var cert *smx509.Certificate
	for _, hc := range res.Certificates {
		if hc.Purpose != protocol.PurposeEncrypt {
			continue
		}
		certs, err := gmcrypto.ParseCertificatesPEM([]byte(hc.CertificatePEM))
		if err != nil || len(certs) == 0 {
			d.gatewayFailed(w, "certificate result", fmt.Errorf("%w: certificate of %s: %v", portal.ErrProtocol, hc.Credential, err))
			return
		}
		cert = certs[0]
		break
	}
	if cert == nil {
		demoError(w, http.StatusUnprocessableEntity, "no_encryption_certificate", "no encryption certificate was handed over")
		return
	}
	data := mustSample(demoSealedBid.File)
	cms, err := gmcrypto.EnvelopeCMS(data, cert)
	if err != nil {
		demoError(w, http.StatusUnprocessableEntity, "seal_failed", "cannot seal to this certificate: "+err.Error())
		return
	}
	bidID := randomID()
	d.store.with(v, func(v *demoVisitor) {
		limitMap(v.bids, func(b *demoBid) time.Time { return b.created })
		v.bids[bidID] = &demoBid{name: demoSealedBid.File, data: data, cms: cms, user: res.User, created: time.Now()}
	})
	demoJSON(w, http.StatusCreated, map[string]any{
		"bid": bidID, "name": demoSealedBid.File, "size": len(data), "cms_size": len(cms),
		"user": res.User, "certificate": cert.Subject.String(),
	})
}

// apiOpen creates the decrypt session of a sealed bid.
func (d *demo) apiOpen(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	var body struct {
		Bid        string `json:"bid"`
		TTLSeconds int    `json:"ttl_seconds,omitempty"`
	}
	if !decodeBody(w, r, demoSmallBody, &body) {
		return
	}
	id := d.loggedIn(w, v)
	if id == nil {
		return
	}
	var b *demoBid
	d.store.with(v, func(v *demoVisitor) { b = v.bids[body.Bid] })
	if b == nil {
		demoError(w, http.StatusNotFound, "not_found", "no such bid")
		return
	}
	title, summary := "开标：解密投标文件", fmt.Sprintf("%s（%d 字节）", b.name, len(b.data))
	if d.langOf(r) == "en" {
		title, summary = "Bid opening: decrypt the sealed bid", fmt.Sprintf("%s (%d bytes)", b.name, len(b.data))
	}
	d.createSession(w, r, v, portal.SessionRequest{
		Kind: portal.KindDecrypt, User: b.user, Ciphertext: b.cms, CiphertextFormat: portal.CipherCMS,
		Display: portal.Display{Title: title, Summary: summary},
	}, ttlBody{body.TTLSeconds}.ttl(), &demoPending{bid: body.Bid})
}

func (d *demo) apiOpenFinish(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	s, p, ok := d.finishSession(w, r, v, string(portal.KindDecrypt))
	if !ok {
		return
	}
	res, err := s.Decrypt()
	if err != nil {
		d.gatewayFailed(w, "decrypt result", err)
		return
	}
	var b *demoBid
	d.store.with(v, func(v *demoVisitor) { b = v.bids[p.bid] })
	if b == nil {
		demoError(w, http.StatusNotFound, "not_found", "the bid is gone (logged out?)")
		return
	}
	out := map[string]any{"name": b.name, "size": len(res.Plaintext), "match": bytes.Equal(res.Plaintext, b.data)}
	if utf8.Valid(res.Plaintext) {
		out["plaintext"] = string(res.Plaintext)
	} else {
		out["plaintext_base64"] = res.Plaintext
	}
	demoJSON(w, http.StatusOK, out)
}
