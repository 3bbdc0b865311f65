package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/ukeygate/ukeygate/config"
)

// httpServer builds the http.Server with every timeout from the
// configuration.
func (s *Server) httpServer() (*http.Server, error) {
	h := s.cfg.HTTP
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: h.ReadHeaderTimeout,
		ReadTimeout:       h.ReadTimeout,
		WriteTimeout:      h.WriteTimeout,
		IdleTimeout:       h.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          newStdLogger(s.log),
	}
	if s.cfg.TLS.Enabled() {
		certs, err := newCertReloader(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile, s.log)
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	}
	return srv, nil
}

// Serve serves on ln (HTTPS if tls.cert_file and tls.key_file are set)
// until ctx ends, then shuts down gracefully: the listener closes at once,
// Stopping() is closed, in-flight requests may finish for up to
// http.shutdown_timeout, remaining connections are then cut, and the
// server is closed (store included). It returns nil after a clean
// shutdown, or the error that stopped it. Serve closes ln and the server
// in every case; call it once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv, err := s.httpServer()
	if err != nil {
		_ = ln.Close()
		return errors.Join(err, s.Close())
	}
	srv.RegisterOnShutdown(s.beginStopping)
	done := make(chan error, 1)
	go func() {
		if s.cfg.TLS.Enabled() {
			done <- srv.ServeTLS(ln, "", "") // certificates from TLSConfig.GetCertificate
		} else {
			// Parked long-polls' connections stay with the API, which
			// serves their re-polls with the same handler (Linux), or
			// come back through the wrapped listener.
			idle := srv.IdleTimeout
			if idle == 0 {
				idle = srv.ReadTimeout // as net/http does
			}
			s.keep.Serve(s.handler, idle, s.log)
			done <- srv.Serve(s.keep.Wrap(ln))
		}
	}()

	select {
	case err := <-done:
		// The server stopped by itself (bad certificate, listener error).
		return errors.Join(fmt.Errorf("server: %w", err), s.Close())
	case <-ctx.Done():
	}

	s.log.Info("shutting down", "grace", s.cfg.HTTP.ShutdownTimeout.String())
	s.beginStopping()
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("requests still running at the end of the shutdown grace period: closing their connections",
			"grace", s.cfg.HTTP.ShutdownTimeout.String())
		_ = srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("server: %w", err))
	}
	errs = append(errs, s.Close())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// Listen binds the configured address. The serve command binds before it
// builds the server, so that a busy port is refused before anything is
// opened, created or logged.
func Listen(cfg config.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: cannot listen on %s: %w", cfg.Listen, unwrapOp(err))
	}
	return ln, nil
}

// ServeListener serves on ln, a listener from Listen, after logging where
// and how it listens; see Serve.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	scheme := "http"
	if s.cfg.TLS.Enabled() {
		scheme = "https"
	}
	s.log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme,
		"public_url", s.cfg.PublicURL, "storage", s.cfg.Storage.Backend, "demo", s.cfg.Demo)
	if why := publicURLMismatch(s.cfg.PublicURL, ln.Addr(), s.cfg.TLS.Enabled()); why != "" {
		s.log.Warn("public_url does not lead to this server", "reason", why, "public_url", s.cfg.PublicURL, "listen", ln.Addr().String())
	}
	return s.Serve(ctx, ln)
}

// unwrapOp drops the *net.OpError wrapper whose address the caller's
// message already names.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// LoopbackListen reports whether a listen address binds loopback only: a
// loopback IP or "localhost". An empty host (every interface), 0.0.0.0,
// :: and any other name or address are not.
func LoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
