package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/session"
)

// Portal side of the scan sessions: create, read, cancel, QR images and
// the long-poll; the websocket is in ws.go, the phone side in scan.go.

// Bounds of the session query parameters.
const (
	// MaxPollWait bounds the long-poll's ?wait= (seconds; 30 in v1,
	// 60 since v1.1). A poll is held at most Deps.MaxHold.
	MaxPollWait = 60 * time.Second
	// DefaultPollWait is the wait= a session's creation answer advises
	// (watch.poll_wait) when Deps.PollWait is 0: the v1 clients' 25 s.
	DefaultPollWait = 25 * time.Second
	// maxTTLSeconds guards the conversion of ttl_seconds (the session
	// package checks the configured maximum).
	maxTTLSeconds = 1 << 20
)

// SessionRequest is the body of POST /v1/sessions: the fields of
// session.Request plus kind, ttl_seconds, the page origin and the desktop
// the portal backend saw.
type SessionRequest protocol.SessionRequest

// sessionRequest is the part of req that the session keeps.
func (q *SessionRequest) sessionRequest() session.Request {
	return session.Request{
		Issuer: q.Issuer, Alg: q.Alg, User: q.User, Documents: q.Documents, Format: q.Format,
		Ciphertext: q.Ciphertext, CiphertextFormat: q.CiphertextFormat, ReturnKey: q.ReturnKey,
		Seal: q.Seal, Display: q.Display,
	}
}

// Validate checks the request's shape; the session package checks the
// rest (ErrInvalidRequest, ErrTTL).
func (q *SessionRequest) Validate() error {
	switch q.Kind {
	case session.KindLogin, session.KindSign, session.KindDecrypt, session.KindSeal, session.KindCertificate:
	case "":
		return invalid("kind", "required")
	default:
		return invalid("kind", "must be login, sign, decrypt, seal or certificate")
	}
	if err := optionalID("seal", q.Seal); err != nil {
		return err
	}
	// What the phone shows as the reason for the PIN must read as it is
	// drawn (protocol.HiddenRune): the field named, so that the portal's
	// developer finds it.
	if err := shownText("display.title", q.Display.Title); err != nil {
		return err
	}
	if err := shownText("display.summary", q.Display.Summary); err != nil {
		return err
	}
	for i, d := range q.Documents {
		if err := shownText(fmt.Sprintf("documents[%d].name", i), d.Name); err != nil {
			return err
		}
		for j, pl := range d.Placements {
			if err := shownText(fmt.Sprintf("documents[%d].placements[%d].keyword", i, j), pl.Keyword); err != nil {
				return err
			}
		}
	}
	for i, d := range q.Documents {
		if d.Pages != 0 {
			return invalid(fmt.Sprintf("documents[%d].pages", i), "is set by the gateway")
		}
		if d.Size != 0 || d.SM3 != nil {
			return invalid(fmt.Sprintf("documents[%d].size", i), "size and sm3 are set by the gateway")
		}
		if d.FileText != nil {
			return invalid(fmt.Sprintf("documents[%d].file_text", i), "is set by the gateway")
		}
	}
	if q.TTLSeconds < 0 || q.TTLSeconds > maxTTLSeconds {
		return &FieldError{Field: "ttl_seconds", Err: session.ErrTTL, Reason: fmt.Sprintf("%d is out of range", q.TTLSeconds)}
	}
	r := q.sessionRequest()
	if err := session.CheckAlg(&r); err != nil {
		return invalid("alg", "%s does not fit ciphertext_format %s", q.Alg, q.CiphertextFormat)
	}
	if i := session.LoginLookalike(&r); i >= 0 {
		// Its signature would be a login for the session it names.
		return invalid(fmt.Sprintf("documents[%d].data", i),
			"looks like a login challenge (a JSON object with session and nonce members): the gateway never signs one in a sign session")
	}
	return nil
}

// sessionsReady refuses the session endpoints on an API built without a
// session service.
func (a *API) sessionsReady() error {
	if a.sessions == nil {
		return ErrSessionsUnavailable
	}
	return nil
}

// sessionPathID is the {id} of a session route. An id that cannot be a
// session's is not found (never looked up).
func sessionPathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !session.ValidID(id) {
		return "", session.ErrNotFound
	}
	return id, nil
}

// portalApp authenticates the app key of the request.
func (a *API) portalApp(r *http.Request) (*auth.App, error) {
	tok, ok := auth.BearerToken(r)
	if !ok {
		return nil, auth.ErrMissingToken
	}
	return a.apps.Authenticate(r.Context(), tok)
}

// watchedSession returns the session of the route's {id} for a caller
// holding its watch token (?token=) or the key of the app that created it
// (Authorization): the common start of the endpoints that show a session
// (read, QR images, long-poll, websocket). With neither, or for anyone
// else, it is session.ErrNotFound: a caller cannot tell a session it may
// not see from one that does not exist.
func (a *API) watchedSession(r *http.Request) (*session.Session, error) {
	if err := a.sessionsReady(); err != nil {
		return nil, err
	}
	id, err := sessionPathID(r)
	if err != nil {
		return nil, err
	}
	if r.Header.Get("Authorization") != "" {
		app, err := a.portalApp(r)
		if err != nil {
			return nil, err
		}
		return a.sessions.GetForApp(r.Context(), id, app.ID)
	}
	tok, err := oneQuery(r, "token")
	if err != nil {
		return nil, err
	}
	if tok == "" || len(tok) > 4*session.WatchTokenLen {
		return nil, session.ErrNotFound
	}
	return a.sessions.CheckWatchToken(r.Context(), id, tok)
}

// watchedRef is watchedSession for a waiting client (long-poll,
// websocket): with the watch token it is answered from the session hub's
// memory when the hub knows the session (session.CheckWatch).
func (a *API) watchedRef(r *http.Request) (session.WatchRef, error) {
	if r.Header.Get("Authorization") != "" {
		sess, err := a.watchedSession(r)
		if err != nil {
			return session.WatchRef{}, err
		}
		return session.WatchRef{ID: sess.ID, AppID: sess.AppID}, nil
	}
	if err := a.sessionsReady(); err != nil {
		return session.WatchRef{}, err
	}
	id, err := sessionPathID(r)
	if err != nil {
		return session.WatchRef{}, err
	}
	tok, err := oneQuery(r, "token")
	if err != nil {
		return session.WatchRef{}, err
	}
	if tok == "" || len(tok) > 4*session.WatchTokenLen {
		return session.WatchRef{}, session.ErrNotFound
	}
	return a.sessions.CheckWatch(r.Context(), id, tok)
}

// checkOrigin refuses a browser request (one with an Origin header) from
// an origin the session's app does not allow; a request without Origin is
// not a browser's and passes. It returns the allowed origin ("" if none).
func (a *API) checkOrigin(r *http.Request, s *session.Session) (string, error) {
	return a.checkAppOrigin(r, s.AppID)
}

// checkAppOrigin is checkOrigin for a session of app appID.
func (a *API) checkAppOrigin(r *http.Request, appID string) (string, error) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "", nil
	}
	if a.origins.allowed(appID, origin) {
		return origin, nil
	}
	app, err := a.apps.Get(r.Context(), appID)
	if err != nil && !errors.Is(err, auth.ErrAppNotFound) {
		return "", err
	}
	if app == nil || !app.AllowsOrigin(origin) {
		return "", fmt.Errorf("%w: %q", ErrOriginNotAllowed, origin)
	}
	a.origins.add(appID, strings.Clone(origin))
	return origin, nil
}

// allowCORS lets the browser page on origin read this answer, whatever
// its status: Access-Control-Allow-Origin names it (never "*"; the
// widget sends no credentials) and Vary: Origin keeps caches honest.
// Call it, with what checkOrigin returned, before anything else can
// fail; "" (no Origin header, or one the app does not allow) sets
// nothing.
func allowCORS(w http.ResponseWriter, origin string) {
	if origin == "" {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Add("Vary", "Origin")
}

// sessionOrigin decides the origin of a new session: the body's, else the
// Origin header, else the app's only origin. It must be one of the app's.
func sessionOrigin(r *http.Request, app *auth.App, body string) (string, error) {
	o := body
	if o == "" {
		o = r.Header.Get("Origin")
	}
	if o == "" {
		if len(app.Origins) != 1 {
			return "", invalid("origin", "required: the app has %d origins", len(app.Origins))
		}
		return app.Origins[0], nil
	}
	norm, err := auth.NormalizeOrigin(o)
	if err != nil {
		return "", invalid("origin", "not scheme://host[:port]")
	}
	if !app.AllowsOrigin(norm) {
		return "", fmt.Errorf("%w: %q", ErrOriginNotAllowed, o)
	}
	return norm, nil
}

// refusalField names the request field a creation refusal about the
// session's issuer, user or algorithm is about (error.field), as the
// shape checks name theirs; other errors pass unchanged.
func refusalField(err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return err
	}
	for _, f := range []struct {
		sentinel error
		field    string
	}{
		{ca.ErrIssuerNotFound, "issuer"},
		{ca.ErrUserNotFound, "user"},
		{ca.ErrAlgNotAllowed, "alg"},
		{ca.ErrPurposeNotAllowed, "issuer"},
	} {
		if errors.Is(err, f.sentinel) {
			return &FieldError{Field: f.field, Err: f.sentinel, Reason: strings.TrimPrefix(err.Error(), f.sentinel.Error()+": ")}
		}
	}
	return err
}

// remoteDesktop is the desktop as this request shows it.
func remoteDesktop(r *http.Request) session.Desktop {
	ip := r.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	return session.Desktop{IP: ip, UserAgent: r.UserAgent()}
}

// sessionURL is the absolute URL of a session sub-resource with the watch
// token.
func (a *API) sessionURL(id, suffix, token string) string {
	return a.sessionsBase() + "/v1/sessions/" + id + suffix + "?token=" + url.QueryEscape(token)
}

// sessionsBase is the public URL the session links live under.
func (a *API) sessionsBase() string {
	if a.sessions != nil {
		return strings.TrimRight(a.sessions.Config().PublicURL, "/")
	}
	return a.publicURL
}

// wsScheme turns an http(s) URL into its ws(s) twin.
func wsScheme(u string) string {
	switch {
	case strings.HasPrefix(u, "https://"):
		return "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		return "ws://" + strings.TrimPrefix(u, "http://")
	}
	return u
}

// caRegistry is the session.Registry of the api: package ca.
type caRegistry struct{ ca *ca.Service }

func (k caRegistry) CheckIssuer(ctx context.Context, issuer, alg, purpose string) error {
	return k.ca.CheckIssuerFor(ctx, issuer, gmcrypto.Alg(alg), ca.Purpose(purpose))
}

func (k caRegistry) CheckUser(ctx context.Context, user string) error {
	_, err := k.ca.User(ctx, user)
	return err
}

func (k caRegistry) CheckSeal(ctx context.Context, sealID, user string) error {
	return k.ca.CheckSealFor(ctx, sealID, user)
}

func (k caRegistry) ChainBytes(ctx context.Context, issuer string) (int, error) {
	return k.ca.ChainBytes(ctx, issuer)
}

func (a *API) creator() *session.Creator {
	return &session.Creator{Sessions: a.sessions, Registry: caRegistry{ca: a.ca}, Uploads: uploadSource{a.uploads}}
}

func (a *API) createSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsReady(); err != nil {
		return err
	}
	app, err := a.portalApp(r)
	if err != nil {
		return err
	}
	var req SessionRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	origin, err := sessionOrigin(r, app, req.Origin)
	if err != nil {
		return err
	}
	desktop := remoteDesktop(r)
	if req.Desktop != nil {
		desktop = *req.Desktop
	}
	c, err := a.creator().Create(r.Context(), session.CreateParams{
		Kind:    req.Kind,
		AppID:   app.ID,
		Origin:  origin,
		Request: req.sessionRequest(),
		Desktop: desktop,
		TTL:     time.Duration(req.TTLSeconds) * time.Second,
	})
	if err != nil {
		return refusalField(err)
	}
	sess, token := c.Session, c.Token
	events := a.sessionURL(sess.ID, "/events", token)
	w.Header().Set("Location", "/v1/sessions/"+sess.ID)
	writeJSON(w, http.StatusCreated, protocol.SessionCreated{
		ID:        sess.ID,
		State:     sess.State,
		ExpiresAt: sess.ExpiresAt,
		Code:      sess.Code,
		QR: protocol.QRLinks{
			Payload: c.Payload,
			PNGURL:  a.sessionURL(sess.ID, "/qr.png", token),
			SVGURL:  a.sessionURL(sess.ID, "/qr.svg", token),
		},
		Watch: protocol.WatchLinks{
			WSURL:     wsScheme(a.sessionURL(sess.ID, "/ws", token)),
			EventsURL: events,
			Token:     token,
			PollWait:  int(a.pollWait / time.Second),
		},
	})
	return nil
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request) error {
	sess, err := a.watchedSession(r)
	if err != nil {
		return err
	}
	evs, err := a.sessions.Events(r.Context(), sess.ID, 0)
	if err != nil {
		return err
	}
	// What changes (state, reason, end time, result) all comes from one
	// read, the event list, whose last event is the session's state: the
	// record read above only gave what never changes.
	v := protocol.SessionView{
		ID: sess.ID, Kind: sess.Kind, State: sess.State, Code: sess.Code, Origin: sess.Origin,
		CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt, Events: evs,
	}
	if n := len(evs); n > 0 {
		last := evs[n-1]
		v.State, v.Reason, v.Result = last.State, last.Reason, last.Result
		if last.State.Final() {
			v.EndedAt = last.At
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) cancelSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsReady(); err != nil {
		return err
	}
	app, err := a.portalApp(r)
	if err != nil {
		return err
	}
	id, err := sessionPathID(r)
	if err != nil {
		return err
	}
	sess, err := a.sessions.Cancel(r.Context(), id, app.ID)
	if err != nil {
		return err
	}
	a.sketches.forget(sess.ID)
	a.auditAction(r.Context(), sessionEndEntry(actionSessionCancel, "app:"+app.ID, "", sess))
	writeJSON(w, http.StatusOK, protocol.SessionState{ID: sess.ID, State: sess.State})
	return nil
}

// qrImage serves the session's QR code as PNG (?size=, pixels) or SVG.
func (a *API) qrImage(svg bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		sess, err := a.watchedSession(r)
		if err != nil {
			return err
		}
		id := sess.ID
		// A page that fetches the image (an <img> does not need to) may
		// read it, and its errors, from one of the app's origins; other
		// origins are not refused, only not allowed to read.
		if origin, err := a.checkOrigin(r, sess); err == nil {
			allowCORS(w, origin)
		}
		size := qrlogin.DefaultSize
		s, err := oneQuery(r, "size")
		if err != nil {
			return err
		}
		if s != "" {
			if svg {
				return invalid("size", "the SVG scales by itself; size is for qr.png")
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < qrlogin.MinSize || n > qrlogin.MaxSize {
				return &FieldError{Field: "size", Err: qrlogin.ErrSize,
					Reason: fmt.Sprintf("%q is not an integer within [%d, %d]", s, qrlogin.MinSize, qrlogin.MaxSize)}
			}
			size = n
		}
		payload, err := a.sessions.QRPayload(r.Context(), id)
		if err != nil {
			return err
		}
		ctype := "image/png"
		if svg {
			ctype = "image/svg+xml"
			size = 0
		}
		key := qrKey{payload: payload, svg: svg, size: size}
		img := a.qr.get(key)
		if img == nil {
			if svg {
				img, err = qrlogin.SVG(payload)
			} else {
				img, err = qrlogin.PNG(payload, size)
			}
			if err != nil {
				return err
			}
			a.qr.put(key, img)
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Length", strconv.Itoa(len(img)))
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(img)
		return nil
	}
}

// oneQuery is r's query parameter name ("" when absent), refused with
// invalid_request when given more than once. The session reads ignore
// parameters they do not know (a browser's or a proxy's cache buster),
// but never pick one of two values of one they know.
func oneQuery(r *http.Request, name string) (string, error) {
	v := r.URL.Query()[name]
	if len(v) > 1 {
		return "", invalid(name, "given more than once")
	}
	if len(v) == 0 {
		return "", nil
	}
	return v[0], nil
}

// afterParam reads ?after= (default 0).
func afterParam(r *http.Request) (int64, error) {
	s, err := oneQuery(r, "after")
	if err != nil || s == "" {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, invalid("after", "must be a sequence number (an integer ≥ 0)")
	}
	return n, nil
}

// waitParam reads ?wait= in seconds (default 0, at most MaxPollWait).
func waitParam(r *http.Request) (time.Duration, error) {
	s, err := oneQuery(r, "wait")
	if err != nil || s == "" {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || time.Duration(n)*time.Second > MaxPollWait {
		return 0, invalid("wait", "must be whole seconds from 0 to %d", int(MaxPollWait/time.Second))
	}
	return time.Duration(n) * time.Second, nil
}

// untilStopping returns a context that also ends when a graceful
// shutdown begins.
func (a *API) untilStopping(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(a.stopCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// pollEvents is the long-poll: the events after ?after=, waiting up to
// ?wait= seconds for the next ones. A browser (Origin header) must be on
// one of the app's origins, and is then allowed to read the answer
// (CORS), error answers included, so that a widget on another origin
// sees why it was refused. An unknown session or token has no app whose
// origins could be consulted: that answer carries no CORS header (the
// widget gives up after a few unreadable answers).
func (a *API) pollEvents(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.watchedRef(r)
	if err != nil {
		return err
	}
	id := ref.ID
	origin, err := a.checkAppOrigin(r, ref.AppID)
	allowCORS(w, origin)
	if err != nil {
		return err
	}
	after, err := afterParam(r)
	if err != nil {
		return err
	}
	wait, err := waitParam(r)
	if err != nil {
		return err
	}
	// A wait is the longest the client will wait: answering sooner, with
	// nothing, keeps the contract; a write timeout must not cut it.
	wait = min(wait, a.maxHold)
	if a.canPark(r, wait) {
		return a.parkPoll(w, r, ref, origin, after, wait)
	}
	return a.holdPoll(w, r, id, after, wait)
}

// holdPoll is the long-poll held by its handler (when it cannot be
// parked, park.go).
func (a *API) holdPoll(w http.ResponseWriter, r *http.Request, id string, after int64, wait time.Duration) error {
	ctx, cancel := a.untilStopping(r.Context())
	defer cancel()
	evs, err := a.sessions.Poll(ctx, id, after, wait)
	if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
		// The server is shutting down: answer what we have (nothing);
		// the client polls again, maybe on another node.
		evs, err = nil, nil
	}
	if err != nil {
		return err
	}
	answerPoll(w, r, evs)
	return nil
}

// answerPoll writes a long-poll's answer; one without news is not worth a
// line of the request log each (quietLog).
func answerPoll(w http.ResponseWriter, r *http.Request, evs []session.Event) {
	if len(evs) == 0 {
		evs = []session.Event{}
		quietLog(r)
	}
	writeJSON(w, http.StatusOK, protocol.EventList{Events: evs})
}

// parkPoll answers at once if there is news, else parks the connection
// (park.go); if it cannot be taken from net/http, the handler holds it.
func (a *API) parkPoll(w http.ResponseWriter, r *http.Request, ref session.WatchRef, origin string, after int64, wait time.Duration) error {
	id := ref.ID
	p := &parked{pk: &a.park}
	f, err := a.sessions.Follow(r.Context(), id, after, p.notify)
	if err != nil {
		return err
	}
	evs, done, _ := f.Next(r.Context())
	if len(evs) > 0 || done {
		f.Close()
		answerPoll(w, r, evs)
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	head := parkHead(h)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		f.Close()
		h.Del("Content-Type")
		h.Del("Cache-Control")
		return a.holdPoll(w, r, id, after, wait)
	}
	quietLog(r) // the answer is logged when it is written
	a.park.begin()
	p.conn, p.f, p.head = conn, f, head
	p.path, p.remote, p.start = strings.Clone(r.URL.Path), strings.Clone(r.RemoteAddr), time.Now()
	p.memo = a.newRepollMemo(r, id, r.URL.Query().Get("token"), ref.AppID, origin, head, wait)
	if brw.Reader.Buffered() > 0 {
		// The client sent more after its request, which net/http has
		// read: answer now and close, so that nothing is misread.
		p.mu.Lock()
		p.armed, p.busy, p.expired, p.closeAfter = true, true, true, true
		p.mu.Unlock()
		go p.run()
		return nil
	}
	a.park.add(p, wait)
	return nil
}

// shownText refuses text for the phone's screen that holds an invisible
// or direction-changing character (invalid_request naming field).
func shownText(field, s string) error {
	if r, hidden := protocol.HiddenIn(s); hidden {
		return invalid(field, "%s", protocol.HiddenReason(r))
	}
	return nil
}
