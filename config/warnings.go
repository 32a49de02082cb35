package config

import (
	"fmt"
	"net"
	"strings"
)

// tlsWarnings lists imap.tls or smtp.tls "none" to a host that is not
// loopback, which sends the password (and every report) in clear over the
// network. Warnings includes them.
func (c *Config) tlsWarnings() []string {
	var w []string
	for _, s := range []struct{ key, tls, addr string }{
		{"imap", c.IMAP.TLS, c.IMAP.Address},
		{"smtp", c.SMTP.TLS, c.SMTP.Address},
	} {
		if strings.EqualFold(strings.TrimSpace(s.tls), "none") && !isLoopback(s.addr) {
			w = append(w, fmt.Sprintf("%s.tls is none but %s.address %s is not a loopback address: the password and all mail cross the network in clear", s.key, s.key, s.addr))
		}
	}
	return w
}

// isLoopback reports whether host:port names this machine: localhost or a
// loopback IP. A name that must be resolved is not trusted to be local.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
