package metrics

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServerClosesIdleConnections: 2,000 keep-alive clients that make one
// request and then sit idle are all served and all closed by the server,
// and never more than MaxConns are open at once.
func TestServerClosesIdleConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	const maxConns = 32
	cl := &countingListener{Listener: ln}
	srv, lln := NewServer(h, cl, ServerOptions{IdleTimeout: 100 * time.Millisecond, ReadHeaderTimeout: 200 * time.Millisecond, MaxConns: maxConns})
	go srv.Serve(lln)
	t.Cleanup(func() { srv.Close() })

	const clients = 2000
	var wg sync.WaitGroup
	var served, closed atomic.Int64
	for range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			served.Add(1)
			// Now idle: the server must hang up.
			if _, err := br.ReadByte(); err == io.EOF {
				closed.Add(1)
			}
		}()
	}
	wg.Wait()
	if served.Load() != clients || closed.Load() != clients {
		t.Errorf("%d of %d clients served, %d closed by the server", served.Load(), clients, closed.Load())
	}
	if p := cl.peak.Load(); p > maxConns {
		t.Errorf("%d connections open at once, cap %d", p, maxConns)
	}
}

// TestServerClosesSilentConnections: a client that connects and sends
// nothing is closed after ReadHeaderTimeout.
func TestServerClosesSilentConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, lln := NewServer(http.NotFoundHandler(), ln, ServerOptions{ReadHeaderTimeout: 100 * time.Millisecond})
	go srv.Serve(lln)
	t.Cleanup(func() { srv.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read: %v, want EOF", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closed after %s", d)
	}
}

func TestServerDefaults(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv, _ := NewServer(http.NotFoundHandler(), ln, ServerOptions{})
	if srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.ReadTimeout != DefaultReadTimeout ||
		srv.WriteTimeout != DefaultWriteTimeout || srv.IdleTimeout != DefaultIdleTimeout {
		t.Errorf("timeouts %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
}

// countingListener tracks how many accepted connections are open, and the
// most at once.
type countingListener struct {
	net.Listener
	open, peak atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
