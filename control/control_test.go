package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// sockPath returns a socket path in a fresh temporary directory. Unix socket
// paths are limited to 108 bytes, so the directory is kept short.
func sockPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "run", "control.sock")
}

// server runs Serve with h on a new socket until the test ends and returns
// the socket path and a function that stops the server and returns Serve's
// result.
func server(t *testing.T, h Handler, grace time.Duration) (path string, stop func() error) {
	t.Helper()
	path = sockPath(t)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, h, slog.New(slog.DiscardHandler), grace) }()
	var once sync.Once
	var serveErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(30 * time.Second):
				serveErr = errors.New("Serve did not return")
			}
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return path, stop
}

func call(t *testing.T, path string, req Request) (stdout, stderr string, exit int) {
	t.Helper()
	var out, errb bytes.Buffer
	exit, err := Call(context.Background(), path, req, &out, &errb)
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	return out.String(), errb.String(), exit
}

func TestRoundTrip(t *testing.T) {
	path, _ := server(t, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
		fmt.Fprintf(stdout, "args=%q\n", req.Args)
		for _, f := range req.Files {
			fmt.Fprintf(stdout, "file %s: %q\n", f.Name, f.Data)
		}
		fmt.Fprintln(stderr, "a warning")
		fmt.Fprintln(stdout, "more output")
		return 3
	}, time.Second)

	tests := []struct {
		name    string
		req     Request
		wantOut string
	}{
		{"args", Request{Args: []string{"show", "CS-2026-0001", "--json"}},
			"args=[\"show\" \"CS-2026-0001\" \"--json\"]\nmore output\n"},
		{"files", Request{Args: []string{"import", "a.eml"}, Files: []File{{Name: "a.eml", Data: []byte("Subject: x\r\n\r\n\x00\xff")}}},
			"args=[\"import\" \"a.eml\"]\nfile a.eml: \"Subject: x\\r\\n\\r\\n\\x00\\xff\"\nmore output\n"},
		{"empty", Request{}, "args=[]\nmore output\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, exit := call(t, path, tt.req)
			if out != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out, tt.wantOut)
			}
			if errs != "a warning\n" {
				t.Errorf("stderr = %q", errs)
			}
			if exit != 3 {
				t.Errorf("exit = %d, want 3", exit)
			}
		})
	}
}

func TestNegativeExitCode(t *testing.T) {
	path, _ := server(t, func(context.Context, Request, io.Writer, io.Writer) int { return -1 }, time.Second)
	if _, _, exit := call(t, path, Request{}); exit != -1 {
		t.Errorf("exit = %d, want -1", exit)
	}
}

// hashWriter hashes what it is given, so the test keeps no copy.
type hashWriter struct {
	n int64
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}

func TestLargeStream(t *testing.T) {
	const size = 50 << 20
	// A deterministic, non-repeating-per-chunk pattern, so reordered or
	// dropped frames change the hash.
	block := func(i int) []byte {
		b := make([]byte, 32<<10)
		for j := range b {
			b[j] = byte(i*31 + j*7)
		}
		return b
	}
	want := sha256.New()
	for i := 0; i*(32<<10) < size; i++ {
		want.Write(block(i))
	}

	path, _ := server(t, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
		for i := 0; i*(32<<10) < size; i++ {
			if _, err := stdout.Write(block(i)); err != nil {
				return 1
			}
		}
		// One write larger than a frame, split by the server.
		if _, err := stdout.Write(bytes.Repeat([]byte{'x'}, 3*maxChunk+5)); err != nil {
			return 1
		}
		return 0
	}, time.Second)
	want.Write(bytes.Repeat([]byte{'x'}, 3*maxChunk+5))

	got := &hashWriter{h: sha256.New()}
	exit, err := Call(context.Background(), path, Request{Args: []string{"backup", "-"}}, got, io.Discard)
	if err != nil || exit != 0 {
		t.Fatalf("Call = %d, %v", exit, err)
	}
	if got.n != size+3*maxChunk+5 {
		t.Errorf("got %d bytes, want %d", got.n, size+3*maxChunk+5)
	}
	if !bytes.Equal(got.h.Sum(nil), want.Sum(nil)) {
		t.Error("stream content differs")
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	path := sockPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	// A crashed daemon leaves its socket file behind.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	// The CLI sees no daemon.
	if _, err := Call(context.Background(), path, Request{}, io.Discard, io.Discard); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("Call on stale socket: err = %v, want ErrNoDaemon", err)
	}

	path2, _ := serverAt(t, path)
	if _, _, exit := call(t, path2, Request{}); exit != 0 {
		t.Errorf("exit = %d", exit)
	}
}

// serverAt serves a handler returning 0 on an existing path.
func serverAt(t *testing.T, path string) (string, context.CancelFunc) {
	t.Helper()
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, nil)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return path, cancel
}

func TestListenRefusesLiveSocket(t *testing.T) {
	path, _ := server(t, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, time.Second)
	ln, err := Listen(path)
	if err == nil {
		ln.Close()
		t.Fatal("second Listen succeeded")
	}
	if want := "another daemon is listening on " + path; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	// The first daemon is unharmed.
	if _, _, exit := call(t, path, Request{}); exit != 0 {
		t.Errorf("exit = %d", exit)
	}
}

func TestListenKeepsNonSocket(t *testing.T) {
	path := sockPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ln, err := Listen(path); err == nil {
		ln.Close()
		t.Fatal("Listen over a regular file succeeded")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Errorf("file changed: %q, %v", b, err)
	}
}

func TestListenModes(t *testing.T) {
	path, _ := server(t, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, time.Second)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want socket 0600", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode = %v, want 0700", di.Mode().Perm())
	}
}

func TestCallNoDaemon(t *testing.T) {
	path := sockPath(t)
	_, err := Call(context.Background(), path, Request{Args: []string{"cases"}}, io.Discard, io.Discard)
	if !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("err = %v, want ErrNoDaemon", err)
	}
}

func TestCallPermissionDeniedIsNotNoDaemon(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root ignores file modes")
	}
	path, _ := server(t, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, time.Second)
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err := Call(context.Background(), path, Request{}, io.Discard, io.Discard)
	if err == nil || errors.Is(err, ErrNoDaemon) {
		t.Fatalf("err = %v, want a permission error that is not ErrNoDaemon", err)
	}
}

func TestPanicRecovered(t *testing.T) {
	path, _ := server(t, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
		if len(req.Args) > 0 && req.Args[0] == "boom" {
			fmt.Fprintln(stdout, "partial")
			panic("hostile input")
		}
		fmt.Fprintln(stdout, "fine")
		return 0
	}, time.Second)

	out, errs, exit := call(t, path, Request{Args: []string{"boom"}})
	if exit != 1 || out != "partial\n" || !strings.Contains(errs, "internal error") {
		t.Errorf("panicking handler: exit %d, stdout %q, stderr %q", exit, out, errs)
	}
	out, _, exit = call(t, path, Request{Args: []string{"ok"}})
	if exit != 0 || out != "fine\n" {
		t.Errorf("after panic: exit %d, stdout %q", exit, out)
	}
}

func TestCancelRemovesSocket(t *testing.T) {
	path, stop := server(t, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after cancel: %v", err)
	}
	if _, err := Call(context.Background(), path, Request{}, io.Discard, io.Discard); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("Call after shutdown: %v, want ErrNoDaemon", err)
	}
}

func TestShutdownWaitsForInFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	path, stop := server(t, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
		close(started)
		<-release
		if ctx.Err() != nil {
			return 9 // must not happen: the request context stays live
		}
		fmt.Fprintln(stdout, "finished")
		return 0
	}, time.Minute)

	type result struct {
		out  string
		exit int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		var out bytes.Buffer
		exit, err := Call(context.Background(), path, Request{}, &out, io.Discard)
		res <- result{out.String(), exit, err}
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	// New connections are refused once the listener is closed; wait for
	// that, which also proves Serve is shutting down.
	for {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			break
		}
		runtime.Gosched()
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	r := <-res
	if r.err != nil || r.exit != 0 || r.out != "finished\n" {
		t.Errorf("in-flight request: %+v", r)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

func TestShutdownGraceCancels(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	path, stop := server(t, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return 1
	}, 10*time.Millisecond)
	errc := make(chan error, 1)
	go func() {
		_, err := Call(context.Background(), path, Request{}, io.Discard, io.Discard)
		errc <- err
	}()
	<-started
	if err := stop(); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	<-cancelled
	if err := <-errc; err == nil {
		t.Error("Call succeeded although the server closed the connection")
	}
}

func TestClientDisconnectCancelsHandler(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	path, _ := server(t, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return 0
	}, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := Call(ctx, path, Request{}, io.Discard, io.Discard)
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Call = %v, want context.Canceled", err)
	}
	<-cancelled
}

func TestBadRequests(t *testing.T) {
	path, _ := server(t, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, time.Second)
	tooBig := make([]byte, 8)
	copy(tooBig, magic[:])
	binary.BigEndian.PutUint32(tooBig[4:], MaxRequestSize+1)
	badJSON := append(append([]byte{}, magic[:]...), 0, 0, 0, 1, '{')

	tests := []struct {
		name, raw, want string
	}{
		{"too big", string(tooBig), "exceeds the limit"},
		{"wrong magic", "GET / HTTP/1.1\r\n\r\n", "unknown protocol"},
		{"bad json", string(badJSON), "decode request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			exit, err := readResponse(c, io.Discard, &errb)
			if err != nil {
				t.Fatal(err)
			}
			if exit != 1 || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q, want 1 and %q", exit, errb.String(), tt.want)
			}
		})
	}
}

func TestCallRejectsOversizedRequest(t *testing.T) {
	// No server needed: the client refuses before dialing.
	big := Request{Files: []File{{Name: "big", Data: make([]byte, MaxRequestSize)}}}
	_, err := Call(context.Background(), sockPath(t), big, io.Discard, io.Discard)
	if err == nil || errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Errorf("err = %v", err)
	}
}

func TestAllowedUID(t *testing.T) {
	tests := []struct {
		uid, own uint32
		want     bool
	}{
		{1000, 1000, true},
		{0, 1000, true},
		{1001, 1000, false},
		{0, 0, true},
		{61234, 0, false},
	}
	for _, tt := range tests {
		if got := allowedUID(tt.uid, tt.own); got != tt.want {
			t.Errorf("allowedUID(%d, %d) = %v, want %v", tt.uid, tt.own, got, tt.want)
		}
	}
}

// TestCallReadsRefusal checks that a client whose request the daemon
// refuses unread (as after a failed peer check) still gets the daemon's
// explanation rather than a broken pipe.
func TestCallReadsRefusal(t *testing.T) {
	path := sockPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		fw := &frameWriter{c: c}
		fmt.Fprintln(&streamWriter{fw: fw, kind: kindStderr}, "permission denied for uid 65534")
		fw.exit(1)
		c.Close()
	}()
	// Far more than the socket buffers hold, so the write fails.
	req := Request{Files: []File{{Name: "big", Data: make([]byte, 8<<20)}}}
	var errb bytes.Buffer
	exit, err := Call(context.Background(), path, req, io.Discard, &errb)
	if err != nil || exit != 1 || errb.String() != "permission denied for uid 65534\n" {
		t.Errorf("Call = %d, %v, stderr %q", exit, err, errb.String())
	}
}

// TestAnnouncedSizeIsNotBuffered: a header announcing 256 MiB is refused
// at once with a clear error, and stalled requests announcing the largest
// allowed size cost the daemon almost nothing, since it grows the buffer
// only with the bytes that arrive.
func TestAnnouncedSizeIsNotBuffered(t *testing.T) {
	path, _ := server(t, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, time.Second)
	header := func(n uint32) []byte {
		b := append([]byte{}, magic[:]...)
		return binary.BigEndian.AppendUint32(b, n)
	}

	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(header(256 << 20))
	var errb bytes.Buffer
	if exit, err := readResponse(c, io.Discard, &errb); err != nil || exit != 1 ||
		!strings.Contains(errb.String(), "request of 268435456 bytes exceeds the limit of 67108864 bytes") {
		t.Errorf("256 MiB announced: exit %d, err %v, stderr %q", exit, err, errb.String())
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const stalled = 8
	for range stalled {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(append(header(MaxRequestSize), `{"args":[`...))
	}
	// Let the server read the headers: one more request must still be
	// answered while the stalled ones wait.
	if _, _, exit := call(t, path, Request{Args: []string{"x"}}); exit != 0 {
		t.Fatalf("exit %d beside stalled requests", exit)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("%d stalled requests announcing %d bytes each allocated %d bytes", stalled, MaxRequestSize, grew)
	}
}

// TestConnectionCap: beyond MaxConns open connections the next one gets a
// clear error instead of a goroutine and a buffer.
func TestConnectionCap(t *testing.T) {
	path, _ := server(t, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, time.Second)
	for range MaxConns {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(magic[:]) // and then nothing: the request stays unread
	}
	// Each held connection registers once accepted; poll until the cap bites.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out, errb bytes.Buffer
		exit, err := Call(context.Background(), path, Request{Args: []string{"x"}}, &out, &errb)
		if err == nil && exit == 1 && strings.Contains(errb.String(), "more than 16 connections at once") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection %d: exit %d, err %v, stderr %q; want the cap's error", MaxConns+1, exit, err, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
