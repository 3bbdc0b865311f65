package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofHandler serves Go's profiling handlers, and nothing else, under
// /debug/pprof/. It is its own mux: the public handler never routes
// there (net/http/pprof also registers itself on http.DefaultServeMux,
// which ukeygate never serves).
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // heap, goroutine, allocs, block, mutex, threadcreate by name
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// startPprof binds debug.pprof_listen, when set, and serves the profiling
// handlers on it until the server closes. A busy or refused address fails
// New, so that an operator who asked for profiles is told at once.
func (s *Server) startPprof() error {
	addr := s.cfg.Debug.PprofListen
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: cannot listen on debug.pprof_listen %s: %w", addr, unwrapOp(err))
	}
	srv := &http.Server{
		Handler:           pprofHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: /debug/pprof/profile?seconds=N answers after N
		// seconds, and the handler refuses N beyond a WriteTimeout.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       newStdLogger(s.log),
	}
	s.pprofAddr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	s.log.Warn("profiling handlers listening (debug.pprof_listen): keep this port away from the network",
		"addr", s.pprofAddr)
	s.onClose(func() error {
		// Profiles in flight are cut: a stopping node has nothing left to show.
		err := srv.Close()
		if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, fmt.Errorf("server: pprof listener: %w", serr))
		}
		return err
	})
	return nil
}

// PprofAddr is the address the profiling handlers listen on
// (debug.pprof_listen, with the port the system chose for port 0), or ""
// when they are off.
func (s *Server) PprofAddr() string { return s.pprofAddr }
