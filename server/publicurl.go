package server

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// publicURLMismatch says why public_url does not lead to the address the
// server listens on, or "" when it may. Phones and browsers only ever see
// public_url (QR payloads, websocket and image URLs), so a listen port
// changed without public_url sends them to the wrong place.
//
// Only a public_url that names this machine is compared: a loopback host
// or "localhost", an address of one of its interfaces, or the host listen
// names. A public_url on another host is a proxy or load balancer in
// front, which the gateway cannot see.
func publicURLMismatch(publicURL string, addr net.Addr, tlsOn bool) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return "" // Validate refuses these before the server starts
	}
	lhost, lport, err := net.SplitHostPort(addr.String())
	if err != nil {
		return ""
	}
	phost, pport := u.Hostname(), u.Port()
	if pport == "" {
		pport = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if !namesThisMachine(phost, lhost) {
		return ""
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	if pport != lport {
		want := url.URL{Scheme: scheme, Host: net.JoinHostPort(phost, lport)}
		return fmt.Sprintf("public_url %s points at port %s but the gateway listens on %s: phones and browsers follow public_url; set public_url to %s (unless a proxy on port %s forwards to this server)",
			publicURL, pport, addr, want.String(), pport)
	}
	if u.Scheme != scheme {
		return fmt.Sprintf("public_url %s is %s but the gateway serves %s on %s (tls.cert_file and tls.key_file %s): set public_url to %s://%s",
			publicURL, u.Scheme, scheme, addr, map[bool]string{true: "are set", false: "are not set"}[tlsOn], scheme, u.Host)
	}
	return ""
}

// namesThisMachine reports whether host (of public_url) is this machine
// as far as the gateway can tell.
func namesThisMachine(host, listenHost string) bool {
	if strings.EqualFold(host, "localhost") || strings.EqualFold(host, listenHost) {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	if lip := net.ParseIP(listenHost); lip != nil && !lip.IsUnspecified() {
		return ip.Equal(lip)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
