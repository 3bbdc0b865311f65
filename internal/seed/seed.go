package seed

import (
	"context"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
)

// DefaultPIN is the PIN of seeded users unless Spec.PIN says otherwise.
const DefaultPIN = "135790"

// timeout guards the whole seeding; a healthy gateway needs seconds.
const timeout = 2 * time.Minute

// Spec is the world to make. Everything is created in order: issuers,
// apps, then users one by one (enrollment, then credentials in order).
type Spec struct {
	Issuers []operator.IssuerRequest
	Apps    []operator.AppRequest
	Users   []User
	// PIN of every user; "" is DefaultPIN.
	PIN string
	// NewPhone returns a fresh, not yet enrolled phone client for each
	// user; nil means a phone.Client on the gateway's URL with in-memory
	// state.
	NewPhone func() *phone.Client
	// BeforeCredential, when set, runs before each credential request (a
	// test clock's tick, say).
	BeforeCredential func()
}

// User is a user to create, enroll and give credentials.
type User struct {
	Name string
	// Phone and IDNumber are optional real-name data.
	Phone, IDNumber string
	// CreditCode makes the user an organisation (kind organization, Name
	// its registered name) with this 统一社会信用代码.
	CreditCode string
	// DeviceName is the enrolled phone's name; "" is Name + "'s phone".
	DeviceName  string
	Credentials []Credential
}

// Credential is a credential to request: issuer id, "SM2" or "RSA",
// "sign" or "encrypt".
type Credential struct {
	Issuer, Alg, Purpose string
}

// Sign and Encrypt are the credentials of purpose sign and encrypt of an
// issuer of alg.
func Sign(issuer, alg string) Credential    { return Credential{issuer, alg, "sign"} }
func Encrypt(issuer, alg string) Credential { return Credential{issuer, alg, "encrypt"} }

// Generated is a generated internal issuer of alg with the given id and
// certificate common name, whose users get alg keys (RSA: 2048 bits).
// Change its fields for more (Subject.Organization, Profile, …).
func Generated(id, alg, commonName string) operator.IssuerRequest {
	prof := &operator.Profile{Algs: []string{alg}}
	if alg == "RSA" {
		prof.RSABits = []int{2048}
	}
	return operator.IssuerRequest{ID: id, Name: alg + " CA", Mode: "internal", Alg: alg, Generate: true,
		Subject: &operator.IssuerSubject{CommonName: commonName}, Profile: prof}
}

// World is what Make created.
type World struct {
	// Op is the operator client Make used.
	Op *operator.Client
	// PIN of every user.
	PIN string
	// Issuers by id.
	Issuers map[string]*operator.Issuer
	// Apps in Spec order, each with its API key.
	Apps []*operator.App
	// Users in Spec order.
	Users []*EnrolledUser
}

// EnrolledUser is a user with their enrolled phone.
type EnrolledUser struct {
	ID, Name string
	Phone    *phone.Client
	// Credentials by "issuer/purpose", e.g. "sm2/sign".
	Credentials map[string]*phone.Credential
}

// Make creates spec on the gateway at baseURL with the admin token;
// any failure stops the test.
func Make(t testing.TB, baseURL, adminToken string, spec Spec) *World {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	w := &World{Op: &operator.Client{BaseURL: baseURL, Token: adminToken}, PIN: spec.PIN,
		Issuers: map[string]*operator.Issuer{}}
	if w.PIN == "" {
		w.PIN = DefaultPIN
	}
	if spec.NewPhone == nil {
		spec.NewPhone = func() *phone.Client { return &phone.Client{BaseURL: baseURL, State: &phone.State{}} }
	}
	w.addIssuers(t, ctx, spec.Issuers)
	w.addApps(t, ctx, spec.Apps)
	for _, u := range spec.Users {
		w.Users = append(w.Users, w.enroll(t, ctx, spec, u))
	}
	return w
}

func (w *World) addIssuers(t testing.TB, ctx context.Context, reqs []operator.IssuerRequest) {
	t.Helper()
	for _, req := range reqs {
		iss, err := w.Op.AddIssuer(ctx, req)
		if err != nil {
			t.Fatalf("seed: issuer %q: %v", req.Name, err)
		}
		w.Issuers[iss.ID] = iss
	}
}

func (w *World) addApps(t testing.TB, ctx context.Context, reqs []operator.AppRequest) {
	t.Helper()
	for _, req := range reqs {
		app, err := w.Op.AddApp(ctx, req)
		if err != nil {
			t.Fatalf("seed: app %q: %v", req.Name, err)
		}
		if app.ID == "" || app.APIKey == "" {
			t.Fatalf("seed: app %q answered without id or key: %+v", req.Name, app)
		}
		w.Apps = append(w.Apps, app)
	}
}

// enroll creates u, enrolls a fresh phone for them and requests their
// credentials, each of which must come back active.
func (w *World) enroll(t testing.TB, ctx context.Context, spec Spec, u User) *EnrolledUser {
	t.Helper()
	req := operator.UserRequest{Name: u.Name, Phone: u.Phone, IDNumber: u.IDNumber}
	if u.CreditCode != "" {
		req.Kind, req.CreditCode = protocol.UserKindOrganization, u.CreditCode
	}
	created, err := w.Op.AddUser(ctx, req)
	if err != nil {
		t.Fatalf("seed: user %q: %v", u.Name, err)
	}
	eu := &EnrolledUser{ID: created.ID, Name: u.Name, Phone: spec.NewPhone(), Credentials: map[string]*phone.Credential{}}
	device := u.DeviceName
	if device == "" {
		device = u.Name + "'s phone"
	}
	if _, err := eu.Phone.Enroll(ctx, created.ActivationCode, device, w.PIN); err != nil {
		t.Fatalf("seed: enrolling %q: %v", u.Name, err)
	}
	for _, c := range u.Credentials {
		if spec.BeforeCredential != nil {
			spec.BeforeCredential()
		}
		cred, err := eu.Phone.RequestCredential(ctx, c.Issuer, c.Alg, c.Purpose, w.PIN)
		if err != nil {
			t.Fatalf("seed: %s credential of %q at %s: %v", c.Purpose, u.Name, c.Issuer, err)
		}
		if cred.State != "active" {
			t.Fatalf("seed: %s credential of %q at %s is %s, not active", c.Purpose, u.Name, c.Issuer, cred.State)
		}
		eu.Credentials[c.Issuer+"/"+c.Purpose] = cred
	}
	return eu
}
