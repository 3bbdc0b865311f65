package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certCheckInterval is how often the certificate files are looked at
// (on a handshake, never more often than this).
const certCheckInterval = 2 * time.Second

// certReloader serves the certificate of tls.cert_file/key_file and picks
// up a renewed pair (a certbot or ACME client rewriting the files) without
// a restart: on a handshake, at most every certCheckInterval, it looks at
// both files' size and modification time and loads them again when either
// changed. A pair that does not load (a renewal half written, a key that
// does not match) is logged and the previous certificate kept.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string // size and mtime of both files when cert was loaded
	lastCheck time.Time
	failed    string // stamp of the last pair that did not load
}

// newCertReloader loads the pair once; a failure is the server's start
// failure.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	stamp, err := r.fileStamp()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server: tls: %w", err)
	}
	r.cert, r.stamp, r.lastCheck = &cert, stamp, r.now()
	return r, nil
}

func (r *certReloader) fileStamp() (string, error) {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("server: tls: %w", err)
		}
		s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.lastCheck) < certCheckInterval {
		return r.cert, nil
	}
	r.lastCheck = now
	stamp, err := r.fileStamp()
	if err != nil || stamp == r.stamp || stamp == r.failed {
		if err != nil && r.failed != "missing" {
			r.failed = "missing"
			r.log.Warn("TLS certificate files unreadable: keeping the loaded certificate", "err", err)
		}
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.failed = stamp
		r.log.Warn("renewed TLS certificate does not load: keeping the previous one", "err", err)
		return r.cert, nil
	}
	r.cert, r.stamp, r.failed = &cert, stamp, ""
	if cert.Leaf != nil {
		r.log.Info("TLS certificate reloaded", "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	} else {
		r.log.Info("TLS certificate reloaded")
	}
	return r.cert, nil
}
