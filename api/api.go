package api

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/privacy"
	"github.com/ukeygate/ukeygate/ra"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/upload"
	"github.com/ukeygate/ukeygate/webapp"
	"github.com/ukeygate/ukeygate/webhook"
)

// DeviceVerifier checks a device-signed request (auth.DeviceVerifier).
type DeviceVerifier interface {
	VerifyDeviceRequest(ctx context.Context, r *http.Request, body []byte) (deviceID, userID string, err error)
}

// Deps is what the API needs. CA, Apps, Admin and Devices are required.
type Deps struct {
	CA      *ca.Service
	Apps    *auth.Apps
	Admin   *auth.Admin
	Devices DeviceVerifier
	// MaxBodyBytes caps every request body (default 1 MiB).
	MaxBodyBytes int64
	// PollWait is the long-poll wait= the session creation answer advises
	// (watch.poll_wait); 0: DefaultPollWait. MaxHold is the longest a
	// long-poll is held (a longer wait= is answered, empty, after it, as
	// a wait may always end early); 0: MaxPollWait.
	PollWait, MaxHold time.Duration
	// PublicURL is the gateway's external base URL.
	PublicURL string
	// Logger gets internal errors; nil discards.
	Logger *slog.Logger
	// Registerer gets the API's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Audit is the audit log (GET /v1/admin/audit, key-use entries); nil
	// answers the audit endpoints with audit_unavailable.
	Audit *audit.Log
	// Sessions runs the scan sessions; nil answers the session endpoints
	// with 503 "unavailable". Confirm also needs Audit (every key use is
	// audited).
	Sessions *session.Service
	// Stopping is closed when a graceful shutdown begins: websockets and
	// long-polls end then. nil: never.
	Stopping <-chan struct{}
	// Demo is the demo portal (demo.New with Prefix PathDemo),
	// served at PathDemo and below; nil: no demo (config demo: false).
	Demo http.Handler
	// Backup writes a backup of the store (GET /v1/admin/backup); nil
	// answers that endpoint with 503 "unavailable".
	Backup Backuper
	// Webhooks keeps the apps' webhooks and their deliveries; nil answers
	// the webhook endpoints with 503 "unavailable".
	Webhooks *webhook.Service
	// Uploads holds the PDFs portals upload before a seal session
	// (POST /v1/uploads); nil answers that endpoint with 503
	// "unavailable" and refuses seal documents given as uploads.
	Uploads *upload.Service
	// DrawnSeals is the policy for hand-drawn signatures (POST
	// /v1/me/seals); the zero value forbids them.
	DrawnSeals DrawnSealConfig
	// Privacy exports and deletes accounts (GET /v1/me/data, DELETE
	// /v1/me, GET /v1/admin/users/{id}/data); nil answers them with 503
	// "unavailable".
	Privacy *privacy.Service
	// Keepalive, when the http.Server's listener is wrapped with it, lets
	// the API park long-polls without a goroutine (park.go) and hand their
	// connections back after answering; nil: long-polls are held by their
	// handler.
	Keepalive *Keepalive
	// Registrations is the registration authority (POST /v1/register, the
	// operator's queue, POST /v1/me/corrections); nil answers them with
	// 503 "unavailable".
	Registrations *ra.Service
}

// DefaultMaxBodyBytes is the body limit when Deps.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// API is the v1 HTTP handler. It also tells the route pattern a request
// goes to (Handler), for the server's metrics labels.
type API struct {
	ca        *ca.Service
	apps      *auth.Apps
	admin     *auth.Admin
	devices   DeviceVerifier
	maxBody   int64
	publicURL string
	log       *slog.Logger
	errors    *prometheus.CounterVec
	audit     *audit.Log

	sessions    *session.Service
	stopping    <-chan struct{}
	pinLockouts prometheus.Counter
	demo        http.Handler
	backup      Backuper
	webapp      *webapp.Handler
	webhooks    *webhook.Service
	uploads     *upload.Service
	drawn       DrawnSealConfig
	privacy     *privacy.Service
	ra          *ra.Service
	// qr caches rendered QR images (qrcache.go).
	qr *qrCache
	// stopCtx ends when a graceful shutdown begins (Deps.Stopping);
	// waiting clients hang on it with context.AfterFunc.
	stopCtx context.Context
	// wheel pings the open websockets (ws.go).
	wheel wsWheel
	// keep and park: the parked long-polls (park.go).
	keep          *Keepalive
	park          parker
	parkedAnswers *prometheus.CounterVec
	// sketches caches the page sketches of seal scans (sketchcache.go).
	sketches *sketchCache
	// origins caches the origin checks of waiting clients (origins.go).
	origins originCache
	// pollWait and maxHold: Deps.PollWait and Deps.MaxHold, defaulted.
	pollWait, maxHold time.Duration

	mux *http.ServeMux
	// patterns are the registered route patterns, in order (for the
	// OpenAPI test).
	patterns []string
}

// New builds the API handler. It panics if a required dependency is
// missing: that is a wiring bug, not a runtime condition.
func New(deps Deps) *API {
	if deps.CA == nil || deps.Apps == nil || deps.Admin == nil || deps.Devices == nil {
		panic("api: New needs CA, Apps, Admin and Devices")
	}
	a := &API{
		ca:        deps.CA,
		apps:      deps.Apps,
		admin:     deps.Admin,
		devices:   deps.Devices,
		maxBody:   deps.MaxBodyBytes,
		publicURL: strings.TrimRight(deps.PublicURL, "/"),
		log:       logger(deps.Logger),
		audit:     deps.Audit,
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ukeygate_api_errors_total",
			Help: "API requests answered with an error, by error code.",
		}, []string{"code"}),
		sessions: deps.Sessions,
		stopping: deps.Stopping,
		demo:     deps.Demo,
		backup:   deps.Backup,
		webhooks: deps.Webhooks,
		uploads:  deps.Uploads,
		drawn:    deps.DrawnSeals,
		privacy:  deps.Privacy,
		ra:       deps.Registrations,
		webapp:   webapp.New(),
		pinLockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ukeygate_pin_lockouts_total",
			Help: "Confirms refused because the user's PIN is locked (the wrong try that locked it included).",
		}),
		mux:      http.NewServeMux(),
		qr:       newQRCache(qrCacheEntries, qrCacheBytes),
		sketches: newSketchCache(sketchCacheEntries, sketchCacheBytes),
		keep:     deps.Keepalive,
		parkedAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ukeygate_longpoll_parked_total",
			Help: "Parked long-polls (answered later on their own connection, counted as 101 in ukeygate_http_requests_total), by outcome: events, empty, gone (the client left), shutdown.",
		}, []string{"outcome"}),
	}
	a.park.a = a
	a.pollWait, a.maxHold = pollBounds(deps.PollWait, deps.MaxHold)
	a.stopCtx = context.Background()
	if deps.Stopping != nil {
		ctx, cancel := context.WithCancel(context.Background())
		a.stopCtx = ctx
		go func() { <-deps.Stopping; cancel() }()
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if deps.Registerer != nil {
		if err := deps.Registerer.Register(a.errors); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(fmt.Sprintf("api: registering metrics: %v", err))
			}
			a.errors = are.ExistingCollector.(*prometheus.CounterVec)
		}
		parkedNow := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ukeygate_longpoll_parked",
			Help: "Long-polls parked now: taken from net/http, waiting without a goroutine (or being answered).",
		}, func() float64 { return float64(a.park.count()) })
		if err := deps.Registerer.Register(parkedNow); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(fmt.Sprintf("api: registering metrics: %v", err))
			}
		}
		keep := a.keep
		lotKept := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ukeygate_longpoll_kept_connections",
			Help: "Connections of answered parked long-polls kept by the API (Linux epoll lot), parked or waiting for their next request.",
		}, func() float64 {
			if keep == nil {
				return 0
			}
			return float64(keep.kept())
		})
		lotRequests := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "ukeygate_longpoll_kept_requests_total",
			Help:        "Requests read on the kept connections of answered parked long-polls: by=api served by the API itself (re-polls), by=http handed back to net/http with the bytes read replayed.",
			ConstLabels: prometheus.Labels{"by": "api"},
		}, func() float64 {
			if keep == nil {
				return 0
			}
			return float64(keep.served.Load())
		})
		lotHanded := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "ukeygate_longpoll_kept_requests_total",
			Help:        "Requests read on the kept connections of answered parked long-polls: by=api served by the API itself (re-polls), by=http handed back to net/http with the bytes read replayed.",
			ConstLabels: prometheus.Labels{"by": "http"},
		}, func() float64 {
			if keep == nil {
				return 0
			}
			return float64(keep.handedBack.Load())
		})
		lotFast := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ukeygate_longpoll_fast_repolls_total",
			Help: "Re-polls on kept connections that matched the memo of the long-poll before them and were parked without running the handler chain (also counted in ukeygate_longpoll_kept_requests_total{by=\"api\"}).",
		}, func() float64 {
			if keep == nil {
				return 0
			}
			return float64(keep.fast.Load())
		})
		sk := a.sketches
		sketchDrawn := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "ukeygate_scan_sketch_documents_total",
			Help:        "Seal documents whose page sketches a scan answer carried: from=pdf drawn by reading the PDF, from=cache drawn earlier for the same session (a second tab, a re-scan).",
			ConstLabels: prometheus.Labels{"from": "pdf"},
		}, func() float64 { return float64(sk.drawn.Load()) })
		sketchCached := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "ukeygate_scan_sketch_documents_total",
			Help:        "Seal documents whose page sketches a scan answer carried: from=pdf drawn by reading the PDF, from=cache drawn earlier for the same session (a second tab, a re-scan).",
			ConstLabels: prometheus.Labels{"from": "cache"},
		}, func() float64 { return float64(sk.cached.Load()) })
		sketchBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ukeygate_scan_sketch_cache_bytes",
			Help: "Bytes of page sketches the node keeps for the scans of open seal sessions (at most 16 MiB).",
		}, func() float64 { _, n := sk.size(); return float64(n) })
		for _, c := range []prometheus.Collector{lotKept, lotRequests, lotHanded, lotFast, sketchDrawn, sketchCached, sketchBytes} {
			if err := deps.Registerer.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					panic(fmt.Sprintf("api: registering metrics: %v", err))
				}
			}
		}
		if err := deps.Registerer.Register(a.parkedAnswers); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(fmt.Sprintf("api: registering metrics: %v", err))
			}
			a.parkedAnswers = are.ExistingCollector.(*prometheus.CounterVec)
		}
		if err := deps.Registerer.Register(a.pinLockouts); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(fmt.Sprintf("api: registering metrics: %v", err))
			}
			a.pinLockouts = are.ExistingCollector.(prometheus.Counter)
		}
	}
	a.routes()
	return a
}

// ServeHTTP serves the request, answering unknown paths and methods with
// a JSON error.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

// Handler returns the handler and route pattern r goes to (the pattern is
// "/v1/" or "/" for an unknown endpoint).
func (a *API) Handler(r *http.Request) (http.Handler, string) { return a.mux.Handler(r) }

// handle registers one route; h returns the error to answer, if any.
func (a *API) handle(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	a.patterns = append(a.patterns, pattern)
	operator := strings.Contains(pattern, " /v1/admin/")
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if operator {
			// Every operator route authenticates first; the operator's
			// name rides in the context into the audit entries.
			name, err := a.admin.Authenticate(r)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			r = r.WithContext(auth.WithOperator(r.Context(), name))
		}
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// The catch-all patterns of unmatched requests.
const (
	catchAll   = "/"
	catchAllV1 = "/v1/"
)

// unmatched answers a request no route took: 405 with Allow if the path
// exists for other methods, else 404.
func (a *API) unmatched(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := a.mux.Handler(probe); p != "" && p != catchAll && p != catchAllV1 {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		if containsString(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return fmt.Errorf("%w: %s %s", ErrMethodNotAllowed, r.Method, r.URL.Path)
	}
	return fmt.Errorf("%w: %s %s", ErrNotFound, r.Method, r.URL.Path)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// caDevices adapts ca.Service to auth.DeviceKeys.
type caDevices struct{ ca *ca.Service }

// DeviceKeys returns svc as the device key lookup of auth.DeviceVerifier:
// an unknown device is auth.ErrDeviceUnknown, a revoked one
// auth.ErrDeviceRevoked (with its key, so that only the device hears it).
func DeviceKeys(svc *ca.Service) auth.DeviceKeys { return caDevices{svc} }

func (d caDevices) DeviceKey(ctx context.Context, id string) (crypto.PublicKey, string, error) {
	pub, user, _, err := d.DeviceRecord(ctx, id)
	return pub, user, err
}

// DeviceRecord implements auth.DeviceRecords: the device's record may
// come from the node's record cache, and the verifier consumes the
// request's nonce only while it is unchanged.
func (d caDevices) DeviceRecord(ctx context.Context, id string) (crypto.PublicKey, string, auth.RecordRef, error) {
	dev, key, rev, err := d.ca.DeviceRecord(ctx, id)
	if errors.Is(err, ca.ErrDeviceNotFound) {
		return nil, "", auth.RecordRef{}, fmt.Errorf("%w: %s", auth.ErrDeviceUnknown, id)
	}
	if err != nil {
		return nil, "", auth.RecordRef{}, err
	}
	ref := auth.RecordRef{Key: key, Revision: rev}
	if dev.Revoked() {
		return dev.PublicKey, "", ref, fmt.Errorf("%w: %s", auth.ErrDeviceRevoked, id)
	}
	return dev.PublicKey, dev.UserID, ref, nil
}
