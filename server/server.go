package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/readcache"
	"github.com/ukeygate/ukeygate/vault"
)

// Server is one ukeygate node: the open store, the master key, the
// metrics registry and the HTTP handler built from them. Make it with New;
// run it with Serve or ServeListener (which close it when they return) or
// use Handler and call Close yourself.
type Server struct {
	cfg config.Config
	// master is the store's data key (see package vault), which services
	// derive their keys from; the master key itself only opens the vault.
	master []byte
	log    *slog.Logger
	// store is the sealed view of raw, the backend as opened (backups
	// copy raw's sealed values as they are).
	store storage.Store
	raw   storage.Store
	vault vault.Info
	reg   *prometheus.Registry

	// ctx lives as long as the server; it is cancelled by Close. wire
	// hands it to background work (sweepers, watchers).
	ctx    context.Context
	cancel context.CancelFunc

	// stopping is closed when a graceful shutdown begins (see Stopping).
	stopping     chan struct{}
	stoppingOnce sync.Once

	mu      sync.Mutex
	closers []func() error // run in reverse order by Close, before the store closes
	closed  bool

	metrics *httpMetrics
	limits  *rateLimits // nil when rate_limit.enabled is false
	handler http.Handler
	// keep takes back the connections of answered parked long-polls
	// (api.Keepalive); Serve wraps a plain-TCP listener with it.
	keep *api.Keepalive
	// sweepUploads deletes the uploads whose seal session has ended (set
	// by wire; see SweepUploads).
	sweepUploads func(context.Context) (int, error)
	// pprofAddr is where the profiling handlers listen ("" when off).
	pprofAddr string
}

// openVaultTimeout bounds opening the vault at start (sealing the values
// of a store from before the vault included).
const openVaultTimeout = 10 * time.Minute

// New validates cfg, checks the master key's length, opens the store and
// its vault (refusing a master key that is not the store's, and a store
// whose key rotation or restore is unfinished),
// registers the metrics collectors, builds the whole HTTP handler and,
// when debug.pprof_listen is set, binds and serves the profiling handlers
// there (see PprofAddr; Close stops them).
// A nil log discards logs. On error nothing stays open.
func New(cfg config.Config, master []byte, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("%w: the master key has %d bytes, want %d", ErrMasterKey, len(master), MasterKeySize)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	raw, err := OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	octx, ocancel := context.WithTimeout(context.Background(), openVaultTimeout)
	v, err := vault.Open(octx, raw, master)
	ocancel()
	if err != nil {
		kind := ErrStore
		if errors.Is(err, vault.ErrWrongKey) {
			kind = ErrMasterKey
		}
		return nil, errors.Join(fmt.Errorf("%w: %w", kind, err), raw.Close())
	}
	// Hot records (issuers, credentials, users, apps, webhooks)
	// are read from memory, invalidated by local writes and the store's
	// watch (package storage/readcache).
	cached, err := readcache.New(v.Store, readcache.DefaultConfig())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%w: %w", ErrStore, err), raw.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:      cfg,
		master:   v.DataKey,
		log:      log,
		store:    cached,
		raw:      raw,
		vault:    v.Info,
		reg:      prometheus.NewRegistry(),
		ctx:      ctx,
		cancel:   cancel,
		stopping: make(chan struct{}),
		keep:     api.NewKeepalive(),
	}
	if err := s.reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, errors.Join(fmt.Errorf("server: registering metrics: %w", err), s.Close())
	}
	if err := s.reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, errors.Join(fmt.Errorf("server: registering metrics: %w", err), s.Close())
	}
	if err := registerCacheMetrics(s.reg, cached); err != nil {
		return nil, errors.Join(fmt.Errorf("server: registering metrics: %w", err), s.Close())
	}
	if cs, ok := raw.(commitStatser); ok {
		if err := registerCommitMetrics(s.reg, cs); err != nil {
			return nil, errors.Join(fmt.Errorf("server: registering metrics: %w", err), s.Close())
		}
	}
	s.metrics = newHTTPMetrics(s.reg)
	if cfg.RateLimit.Enabled {
		if s.limits, err = newRateLimits(cfg.RateLimit, s.reg, nil); err != nil {
			return nil, errors.Join(fmt.Errorf("server: rate limits: %w", err), s.Close())
		}
	}
	api, err := s.wire()
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if d, ok := api.(interface{ DrainParked(time.Duration) }); ok {
		// Parked long-polls are answered when stopping begins; their
		// answers need the store.
		s.onClose(func() error { d.DrainParked(s.cfg.HTTP.ShutdownTimeout); return nil })
	}
	s.handler = s.buildHandler(api)
	if err := s.startPprof(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Handler is the whole HTTP handler of the node, middleware included.
func (s *Server) Handler() http.Handler { return s.handler }

// Config is the validated configuration the server runs with.
func (s *Server) Config() config.Config { return s.cfg }

// Store is the open store (for tests and for wiring).
func (s *Server) Store() storage.Store { return s.store }

// Stopping is closed when a graceful shutdown begins: long-polls and
// websockets should return (or send a close frame) when it is, so that
// shutdown does not wait for them.
func (s *Server) Stopping() <-chan struct{} { return s.stopping }

func (s *Server) beginStopping() {
	s.stoppingOnce.Do(func() { close(s.stopping) })
}

// onClose registers f to run when the server closes, before the store
// closes; the last registered runs first.
func (s *Server) onClose(f func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, f)
}

// Close stops background work, runs the closers registered by wire and
// closes the store. It is safe to call more than once; later calls return
// nil. Serve and ServeListener call it when they return.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	closers := s.closers
	s.closers = nil
	s.mu.Unlock()

	s.beginStopping()
	s.cancel()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i]())
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("server: closing the store: %w", err))
	}
	clear(s.master)
	return errors.Join(errs...)
}
