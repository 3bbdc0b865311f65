package webhook

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// CheckURL checks that raw is an absolute http(s) URL a webhook may use:
// a host, no user info, no fragment, at most MaxURLLen bytes. Unless
// allowPrivate, a host that is an IP literal must be a public address
// (names are checked when resolved: see CheckTarget and the dialer).
func CheckURL(raw string, allowPrivate bool) (*url.URL, error) {
	if raw == "" || len(raw) > MaxURLLen {
		return nil, fmt.Errorf("%w: the URL must have 1 to %d bytes", ErrInvalidURL, MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: the scheme must be http or https", ErrInvalidURL)
	case u.Host == "" || u.Hostname() == "" || u.Opaque != "":
		return nil, fmt.Errorf("%w: the URL must be absolute, with a host", ErrInvalidURL)
	case u.User != nil:
		return nil, fmt.Errorf("%w: the URL must not hold user info", ErrInvalidURL)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("%w: the URL must not have a fragment", ErrInvalidURL)
	case strings.ContainsAny(raw, " \t\r\n"):
		return nil, fmt.Errorf("%w: the URL must not hold spaces", ErrInvalidURL)
	}
	if p := u.Port(); p != "" {
		if n, err := net.LookupPort("tcp", p); err != nil || n == 0 {
			return nil, fmt.Errorf("%w: bad port %q", ErrInvalidURL, p)
		}
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate && !PublicAddr(ip) {
		return nil, fmt.Errorf("%w: %s is not a public address (webhook.allow_private is off)", ErrTargetNotAllowed, ip)
	}
	return u, nil
}

// CheckTarget resolves u's host and refuses it, unless allowPrivate, when
// any of its addresses is not public. A name that does not resolve is
// accepted (it may later); the dialer checks again at every attempt.
func CheckTarget(ctx context.Context, u *url.URL, allowPrivate bool) error {
	if allowPrivate {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if !PublicAddr(a) {
			return fmt.Errorf("%w: %s resolves to %s, not a public address (webhook.allow_private is off)", ErrTargetNotAllowed, u.Hostname(), a.Unmap())
		}
	}
	return nil
}

// nonPublic are the ranges beside the ones netip classifies that are not
// reachable public hosts.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("100::/64"),        // discard
}

// PublicAddr reports whether ip is a public unicast address: not
// loopback, private (RFC 1918, fc00::/7), link-local, unspecified,
// multicast, carrier-grade NAT, documentation or reserved. An IPv4-mapped
// IPv6 address is judged as its IPv4 address.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() || !ip.IsGlobalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// guardedControl refuses, at dial time, a connection to an address that
// is not public: the address the name resolved to, not the name.
func guardedControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse the dialled address %q", ErrTargetNotAllowed, address)
	}
	if !PublicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address (webhook.allow_private is off)", ErrTargetNotAllowed, ap.Addr().Unmap())
	}
	return nil
}

// newClient is the HTTP client of the sender: no proxy (the dial check
// must see the real target), the dial-time address check unless
// allowPrivate, no redirects, one timeout for the whole attempt.
func newClient(cfg Config) *http.Client {
	rt := cfg.Transport
	if rt == nil {
		d := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
		if !cfg.AllowPrivate {
			d.Control = guardedControl
		}
		rt = &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   cfg.Workers,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout,
			DisableCompression:    true,
		}
	}
	return &http.Client{
		Transport: rt,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
