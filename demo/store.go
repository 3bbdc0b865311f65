package demo

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The demo keeps who is logged in, the sessions it created and the files
// it produced in memory, per visitor (a random id in an HttpOnly,
// SameSite=Strict cookie, Secure over https, replaced by a fresh one at
// login and logout). Everything is bounded and expires.
const (
	demoCookie        = "ukg_demo"
	demoVisitorIdle   = 2 * time.Hour
	demoMaxVisitors   = 10000
	demoMaxPerVisitor = 16
)

type demoIdentity struct {
	Name         string    `json:"name"`
	User         string    `json:"user"`
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	Serial       string    `json:"serial"`
	NotAfter     time.Time `json:"not_after"`
	NotAfterText string    `json:"not_after_text"`
	Alg          string    `json:"alg"`
}

// demoPending is a session the demo created and has not finished.
type demoPending struct {
	kind    string
	created time.Time
	name    string // sign: the document name
	data    []byte // sign: the document
	bid     string // decrypt: the bid id
}

type demoFile struct {
	name        string
	cms         []byte // the file: a signature, or a sealed PDF
	contentType string // "" is application/pkcs7-signature
	created     time.Time
}

type demoBid struct {
	name    string
	data    []byte
	cms     []byte
	user    string // the bidder, as the certificate session named them
	created time.Time
}

type demoVisitor struct {
	id       string
	seen     time.Time
	login    *demoIdentity
	sessions map[string]*demoPending
	files    map[string]*demoFile
	bids     map[string]*demoBid
}

type demoStore struct {
	mu       sync.Mutex
	visitors map[string]*demoVisitor
	now      func() time.Time
}

func newDemoStore() *demoStore {
	return &demoStore{visitors: map[string]*demoVisitor{}, now: time.Now}
}

func randomID() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic("portal: crypto/rand failed: " + err.Error()) // never happens (Go 1.24+)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// visitor returns the visitor of r's cookie, creating one (and setting the
// cookie) when there is none or it expired.
func (d *demo) visitor(w http.ResponseWriter, r *http.Request) *demoVisitor {
	s := d.store
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if c, err := r.Cookie(demoCookie); err == nil {
		if v, ok := s.visitors[c.Value]; ok && now.Sub(v.seen) < demoVisitorIdle {
			v.seen = now
			return v
		}
	}
	if len(s.visitors) >= demoMaxVisitors {
		s.evictLocked(now)
	}
	v := &demoVisitor{
		id: randomID(), seen: now,
		sessions: map[string]*demoPending{}, files: map[string]*demoFile{}, bids: map[string]*demoBid{},
	}
	s.visitors[v.id] = v
	d.setCookie(w, r, v.id)
	return v
}

// setCookie gives the browser the visitor id: HttpOnly (no script reads
// it), SameSite=Strict (no cross-site request carries it), and Secure
// when the demo is served over https (its origin, by default the
// gateway's public URL, or this very request).
func (d *demo) setCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: demoCookie, Value: id, Path: d.cfg.Prefix + "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: strings.HasPrefix(d.cfg.Origin, "https://") || r.TLS != nil,
	})
}

// rotate runs fn on visitor v under the store's lock and moves v to a
// fresh id, which the browser gets as its new cookie; the old id is
// forgotten. The demo rotates at login and logout, so that an id chosen
// before (say, a cookie planted by a sibling subdomain or over plain
// http) never shares the logged-in session: no session fixation.
func (d *demo) rotate(w http.ResponseWriter, r *http.Request, v *demoVisitor, fn func(v *demoVisitor)) {
	s := d.store
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	fn(v)
	if s.visitors[v.id] == v {
		delete(s.visitors, v.id)
	}
	if len(s.visitors) >= demoMaxVisitors {
		s.evictLocked(now)
	}
	v.id, v.seen = randomID(), now
	s.visitors[v.id] = v
	d.setCookie(w, r, v.id)
}

// evictLocked drops idle visitors, and the least recently seen one if
// none is idle.
func (s *demoStore) evictLocked(now time.Time) {
	var oldest *demoVisitor
	for id, v := range s.visitors {
		if now.Sub(v.seen) >= demoVisitorIdle {
			delete(s.visitors, id)
			continue
		}
		if oldest == nil || v.seen.Before(oldest.seen) {
			oldest = v
		}
	}
	if len(s.visitors) >= demoMaxVisitors && oldest != nil {
		delete(s.visitors, oldest.id)
	}
}

// with runs fn on v under the store's lock.
func (s *demoStore) with(v *demoVisitor, fn func(v *demoVisitor)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(v)
}

func (s *demoStore) identity(v *demoVisitor) *demoIdentity {
	var id *demoIdentity
	s.with(v, func(v *demoVisitor) {
		if v.login != nil {
			c := *v.login
			id = &c
		}
	})
	return id
}

// limitMap keeps at most demoMaxPerVisitor entries by dropping the oldest.
func limitMap[T any](m map[string]T, created func(T) time.Time) {
	for len(m) >= demoMaxPerVisitor {
		var oldK string
		var oldT time.Time
		for k, v := range m {
			if t := created(v); oldK == "" || t.Before(oldT) {
				oldK, oldT = k, t
			}
		}
		delete(m, oldK)
	}
}
