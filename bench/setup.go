package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
)

// Origin is the page origin of the bench's portal app and sessions.
const Origin = "https://bench.ukeygate.test"

// setupWorkers bounds the users enrolled at once.
const setupWorkers = 8

// Fixture is a gateway set up for a run: the issuer, the app and the
// enrolled users. Flow runs one session with it; Load runs many.
type Fixture struct {
	// IssuerID is the issuer the credentials come from; IssuerCreated
	// tells whether Setup created it.
	IssuerID      string
	IssuerCreated bool
	// AppID is the portal app Setup registered.
	AppID string
	// Users is the number of enrolled users.
	Users int
	// SetupTime is how long Setup took.
	SetupTime time.Duration

	cfg    Config
	server *url.URL
	http   *http.Client
	portal *portal.Client
	roots  []*smx509.Certificate
	users  []*benchUser
	// payload is the document of sign sessions.
	payload []byte
}

// benchUser is one enrolled user with their phone and credential.
type benchUser struct {
	id         string
	phone      *phone.Client
	credential string
	// ciphertext is a CMS envelope of plaintext to the user's encryption
	// credential (decrypt runs).
	ciphertext []byte
	plaintext  []byte
}

// newHTTPClient is the client of every request of a run: direct (no
// proxy), enough idle connections for the workers, and no redirect to
// another host.
func newHTTPClient(server *url.URL, concurrency int) *http.Client {
	idle := 4*concurrency + 16
	tr := &http.Transport{
		// A non-nil Proxy returning no proxy: the portal's websocket
		// dialer copies it, so it also goes straight to the server.
		Proxy:                 func(*http.Request) (*url.URL, error) { return nil, nil },
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   DefaultSessionTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !sameHost(req.URL, server) {
				return fmt.Errorf("%w: redirect to %s", ErrForeignHost, req.URL.Redacted())
			}
			if len(via) >= 3 {
				return errors.New("bench: too many redirects")
			}
			return nil
		},
	}
}

// sameHost reports whether u is on the server's scheme and host.
func sameHost(u, server *url.URL) bool {
	return strings.EqualFold(u.Host, server.Host) && strings.EqualFold(u.Scheme, server.Scheme)
}

// Setup prepares the server for cfg: it creates an internal issuer of
// cfg.Alg (unless cfg.Issuer names one), a portal app with Origin, and
// cfg.Users users (one per worker by default), each enrolled with a
// fresh in-memory phone and holding one credential (sign, or encrypt for
// decrypt runs). Everything goes through the operator and phone APIs of
// cfg.Server. What it creates stays on the server.
func Setup(ctx context.Context, cfg Config) (*Fixture, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	server, _ := url.Parse(strings.TrimRight(cfg.Server, "/"))
	hc := newHTTPClient(server, cfg.Concurrency)
	base := server.String()
	f := &Fixture{cfg: cfg, server: server, http: hc, Users: cfg.users(),
		payload: bytes.Repeat([]byte("ukeygate bench bid document. "), 128)}
	a := &operator.Client{BaseURL: base, Token: cfg.AdminToken, HTTP: hc}
	tag := randomTag()
	if err := f.issuer(ctx, a, tag); err != nil {
		return nil, err
	}
	if err := f.app(ctx, a, tag); err != nil {
		return nil, err
	}
	if err := f.enrollAll(ctx, a, tag); err != nil {
		return nil, err
	}
	f.SetupTime = time.Since(start)
	return f, nil
}

// issuer creates the run's issuer, or finds cfg.Issuer, and keeps its
// certificate as the root of verify runs.
func (f *Fixture) issuer(ctx context.Context, a *operator.Client, tag string) error {
	iss, err := f.findOrCreateIssuer(ctx, a, tag)
	if err != nil {
		return err
	}
	f.IssuerID = iss.ID
	if f.cfg.Verify {
		roots, err := gmcrypto.ParseCertificatesPEM([]byte(iss.CertificatePEM))
		if err != nil {
			return fmt.Errorf("%w: the issuer's certificate: %w", ErrSetup, err)
		}
		f.roots = roots
	}
	return nil
}

func (f *Fixture) findOrCreateIssuer(ctx context.Context, a *operator.Client, tag string) (*operator.Issuer, error) {
	alg := f.cfg.Alg
	if f.cfg.Issuer == "" {
		prof := &operator.Profile{Algs: []string{alg}}
		if alg == AlgRSA {
			prof.RSABits = []int{2048}
		}
		iss, err := a.AddIssuer(ctx, operator.IssuerRequest{
			Name: "ukeygate bench " + alg + " " + tag, Mode: "internal", Alg: alg, Generate: true,
			Subject: &operator.IssuerSubject{CommonName: "ukeygate bench " + alg + " CA " + tag,
				Organization: "ukeygate bench", Country: "CN"},
			Profile: prof,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: creating the issuer: %w", ErrSetup, err)
		}
		if iss.ID == "" {
			return nil, fmt.Errorf("%w: the issuer answer has no id", ErrSetup)
		}
		f.IssuerCreated = true
		return iss, nil
	}
	list, err := a.Issuers(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: listing the issuers: %w", ErrSetup, err)
	}
	for _, iss := range list {
		if iss.ID == f.cfg.Issuer {
			return iss, nil
		}
	}
	return nil, fmt.Errorf("%w: no issuer %q on the server", ErrSetup, f.cfg.Issuer)
}

// app registers the run's portal app with Origin.
func (f *Fixture) app(ctx context.Context, a *operator.Client, tag string) error {
	app, err := a.AddApp(ctx, operator.AppRequest{Name: "ukeygate bench " + tag, Origins: []string{Origin}})
	if err != nil {
		return fmt.Errorf("%w: registering the app: %w", ErrSetup, err)
	}
	if app.ID == "" || app.APIKey == "" {
		return fmt.Errorf("%w: the app answer has no id or key", ErrSetup)
	}
	f.AppID = app.ID
	f.portal = &portal.Client{BaseURL: f.server.String(), AppKey: app.APIKey, HTTP: f.http, Origin: Origin}
	return nil
}

// enrollAll creates and enrolls the users, a few at a time.
func (f *Fixture) enrollAll(ctx context.Context, a *operator.Client, tag string) error {
	f.users = make([]*benchUser, f.Users)
	errs := make([]error, f.Users)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(f.Users, setupWorkers) {
		wg.Go(func() {
			for i := range next {
				f.users[i], errs[i] = f.enroll(ctx, a, tag, i)
			}
		})
	}
	for i := range f.Users {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	return nil
}

// enroll creates user i, enrolls an in-memory phone for them and gets
// their credential (and, for decrypt runs, an envelope to it).
func (f *Fixture) enroll(ctx context.Context, a *operator.Client, tag string, i int) (*benchUser, error) {
	u, err := a.AddUser(ctx, operator.UserRequest{Name: fmt.Sprintf("bench user %s-%d", tag, i)})
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", i, err)
	}
	pc := &phone.Client{BaseURL: f.server.String(), HTTP: f.http, State: &phone.State{}}
	if _, err := pc.Enroll(ctx, u.ActivationCode, fmt.Sprintf("bench phone %d", i), f.cfg.PIN); err != nil {
		return nil, fmt.Errorf("user %d: enroll: %w", i, err)
	}
	purpose := "sign"
	if f.cfg.Kind == KindDecrypt {
		purpose = "encrypt"
	}
	var cred *phone.Credential
	if f.cfg.Cosign {
		cred, err = pc.RequestCosignCredential(ctx, f.IssuerID, purpose, f.cfg.PIN)
	} else {
		cred, err = pc.RequestCredential(ctx, f.IssuerID, f.cfg.Alg, purpose, f.cfg.PIN)
	}
	if err != nil {
		return nil, fmt.Errorf("user %d: credential: %w", i, err)
	}
	if cred.State != "active" {
		return nil, fmt.Errorf("user %d: credential %s is %s, not active (an external issuer needs its certificates imported first)", i, cred.ID, cred.State)
	}
	bu := &benchUser{id: u.ID, phone: pc, credential: cred.ID}
	if f.cfg.Kind == KindDecrypt {
		bu.plaintext = fmt.Appendf(nil, "ukeygate bench: sealed bid of user %d, 报价 ¥%d.00", i, 1_000_000+i)
		if bu.ciphertext, err = f.portal.Encrypt(ctx, u.ID, f.IssuerID, bu.plaintext); err != nil {
			return nil, fmt.Errorf("user %d: envelope: %w", i, err)
		}
	}
	return bu, nil
}

// randomTag is a short random string that keeps the names of one run's
// issuer, app and users apart from earlier runs'.
func randomTag() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
