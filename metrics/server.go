package metrics

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// ServerOptions are the limits of the HTTP server for /metrics and
// /healthz. A zero field means its default. The endpoint is meant for a
// scraper and a health checker on a trusted network, but anyone who can
// reach it must not be able to pin the daemon's memory or file
// descriptors: slow or idle clients are closed and the number of
// connections is capped.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers (slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no next request.
	IdleTimeout time.Duration
	// MaxConns is the most connections served at once; further ones wait
	// in the kernel's accept queue until one closes.
	MaxConns int
}

// Default server limits.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
	DefaultMaxConns          = 64
)

func (o ServerOptions) withDefaults() ServerOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	return o
}

// NewServer returns an http.Server for h with the limits of o, and the
// listener ln wrapped so that at most o.MaxConns connections are open.
// Serve the returned server on the returned listener.
func NewServer(h http.Handler, ln net.Listener, o ServerOptions) (*http.Server, net.Listener) {
	o = o.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
	}
	return srv, netutil.LimitListener(ln, o.MaxConns)
}
