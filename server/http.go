package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/protocol"
)

// Paths served by the server itself; everything else goes to the handler
// built by wire.
const (
	PathHealth  = "/healthz"
	PathReady   = "/readyz"
	PathMetrics = "/metrics"
)

// readyTimeout bounds the store ping of /readyz.
const readyTimeout = 3 * time.Second

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes {"error":{"code":…,"message":…}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, protocol.ErrorEnvelope{Error: protocol.ErrorBody{Code: code, Message: message}})
}

// routeFinder is what *http.ServeMux offers to tell the pattern a request
// will be routed to, without serving it.
type routeFinder interface {
	Handler(r *http.Request) (http.Handler, string)
}

// buildHandler puts the server's own endpoints in front of api and wraps
// everything with the middleware chain (outermost first): metrics, logging,
// panic recovery, security headers, body limit.
func (s *Server) buildHandler(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathHealth, s.handleHealth)
	mux.HandleFunc("GET "+PathReady, s.handleReady)
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.Handle("/", api)

	route := func(r *http.Request) string {
		_, p := mux.Handler(r)
		if p == "/" {
			p = ""
			if rf, ok := api.(routeFinder); ok {
				_, p = rf.Handler(r)
			}
		}
		if p == "" {
			return "unmatched"
		}
		return p
	}

	s.keep.SetGate(repollGate{s: s, route: route})

	var h http.Handler = mux
	h = s.limitBody(h)
	if s.limits != nil {
		h = s.limits.middleware(h)
	}
	h = s.securityHeaders(h)
	h = s.recoverPanics(h)
	h = s.logRequests(h)
	h = s.instrument(route, h)
	return h
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.stopping:
		writeError(w, http.StatusServiceUnavailable, protocol.CodeNotReady, "the server is shutting down")
		return
	default:
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, protocol.CodeNotReady, "store: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// httpMetrics are the request counter and duration histogram.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ukeygate_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ukeygate_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "code"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// instrument counts and times every request by route pattern (never the
// raw path, to bound the label set) and status code.
func (s *Server) instrument(route func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		label := route(r)
		rec := wrapWriter(w)
		defer func() {
			code := strconv.Itoa(rec.status())
			s.metrics.requests.WithLabelValues(label, code).Inc()
			s.metrics.duration.WithLabelValues(label, code).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRequests logs one line per request (at debug level for health checks,
// metrics scrapes and the routine requests the API marks quiet). The query
// string is left out: it may carry watch tokens.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := wrapWriter(w)
		ctx, note := api.WithRequestLog(r.Context())
		next.ServeHTTP(rec, r.WithContext(ctx))
		lvl := slog.LevelInfo
		switch r.URL.Path {
		case PathHealth, PathReady, PathMetrics:
			lvl = slog.LevelDebug
		}
		if note.Quiet {
			// A long-poll answered without news (or parked: the API logs
			// its answer): routine, thousands a minute with many waiting
			// portals. Errors are never quiet.
			lvl = slog.LevelDebug
		}
		s.log.Log(r.Context(), lvl, "http request",
			"method", r.Method,
			"path", r.URL.Path,
			"status", rec.status(),
			"bytes", rec.bytes,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"remote", r.RemoteAddr,
		)
	})
}

// recoverPanics turns a handler panic into a logged error and, if nothing
// was written yet, a JSON 500. http.ErrAbortHandler is passed on.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := wrapWriter(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.Error("panic serving request",
				"method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !rec.wroteHeader && !rec.hijacked {
				writeError(rec, http.StatusInternalServerError, protocol.CodeInternal, "internal server error")
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// securityHeaders sets the defaults every response carries. A handler
// serving HTML or scripts (demo page, SDK) replaces Content-Security-Policy
// with its own w.Header().Set.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	csp := "default-src 'none'; frame-ancestors " + s.cfg.HTTP.FrameAncestors
	tls := s.cfg.TLS.Enabled()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", csp)
		if tls {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body at http.max_body_bytes.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.cfg.HTTP.MaxBodyBytes
		upload := r.Method == http.MethodPost && r.URL.Path == api.PathUploads
		if upload {
			// An upload streams up to its own cap, which the API enforces
			// with its own code (request_too_large): this is a backstop.
			limit = s.cfg.Seals.UploadMaxBytes + 1
		}
		if r.ContentLength > limit && !upload {
			writeError(w, http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge,
				fmt.Sprintf("the request body is larger than %d bytes", limit))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status and size of a response. It keeps
// http.Flusher and http.Hijacker (websockets) working and unwraps for
// http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code        int
	bytes       int64
	wroteHeader bool
	hijacked    bool
}

// wrapWriter returns w itself if it is already a statusWriter.
func wrapWriter(w http.ResponseWriter) *statusWriter {
	if sw, ok := w.(*statusWriter); ok {
		return sw
	}
	return &statusWriter{ResponseWriter: w}
}

func (w *statusWriter) status() int {
	switch {
	case w.hijacked:
		return http.StatusSwitchingProtocols
	case !w.wroteHeader:
		return http.StatusOK
	}
	return w.code
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.code = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.code = http.StatusOK
		w.wroteHeader = true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if !w.wroteHeader {
		w.code = http.StatusOK
		w.wroteHeader = true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, brw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// repollGate is the middleware's part in the re-polls the API's parking
// lot parks without running the chain (api.RepollGate): the same rate
// limits and the same request metrics (a parked long-poll is counted as
// instrument counts it, with the status of a hijacked connection).
type repollGate struct {
	s     *Server
	route func(*http.Request) string
}

func (g repollGate) Gate(r *http.Request) (func() bool, func(time.Duration)) {
	label := g.route(r)
	code := strconv.Itoa(http.StatusSwitchingProtocols)
	requests := g.s.metrics.requests.WithLabelValues(label, code)
	duration := g.s.metrics.duration.WithLabelValues(label, code)
	served := func(d time.Duration) {
		requests.Inc()
		duration.Observe(d.Seconds())
	}
	rl := g.s.limits
	if rl == nil {
		return nil, served
	}
	keys := rl.keysOf(r)
	return func() bool { return rl.spend(keys) == nil }, served
}
