// Package control is the daemon's control socket: while `disclosured run`
// holds the store (bbolt takes an exclusive file lock), the other CLI
// commands cannot open it, so they are forwarded to the daemon over a unix
// socket and executed there. Without a daemon the CLI opens the store itself;
// Call reports that case as ErrNoDaemon.
//
// # Wire protocol
//
// One connection carries one command.
//
// The client sends one request: the 4-byte magic "dsc\x01" (the last byte
// is the protocol version, so a CLI and a daemon from different releases
// fail clearly instead of misparsing), a 4-byte big-endian length and that
// many bytes of JSON encoding a [Request]. Requests larger than
// [MaxRequestSize] are rejected by both sides. The client then sends nothing
// more but keeps its side open: the daemon reads on, and EOF means the
// client went away, which cancels the handler's context.
//
// The daemon answers with a stream of frames, each a 1-byte kind
// (1 stdout, 2 stderr, 3 exit), a 4-byte big-endian length and the payload.
// Output frames carry at most 1 MiB, so a large output (backup streams a
// whole database) flows through without being buffered on either side. The
// last frame is the exit frame, whose payload is the exit code as a 4-byte
// big-endian integer; then the daemon closes the connection.
//
// # Who may connect
//
// The socket file is chmod 0600 right after it is created, so only its
// owner (the daemon's user) and root can connect. Because the file exists
// with the umask's mode for a moment before the chmod, and because the
// socket directory may be more open than the socket, the daemon also checks
// the peer on each connection: on Linux it reads SO_PEERCRED and accepts
// only its own uid and root (uid 0). Elsewhere it relies on the file mode
// alone. A rejected peer gets an error on stderr and exit code 1.
//
// Files a command reads (import) are read by the client and sent in the
// request, because the daemon may run as another user (systemd DynamicUser)
// that cannot read the caller's files.
package control

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// Request is one CLI command forwarded to the daemon.
type Request struct {
	// Args is the CLI argv after the program name, for example
	// ["show", "CS-2026-0001", "--json"].
	Args []string `json:"args"`
	// Files holds the contents of the files the command reads, read by the
	// client on behalf of the daemon.
	Files []File `json:"files,omitempty"`
}

// File is the content of one file named on the command line.
type File struct {
	// Name is the file name as the user gave it, for messages and for
	// matching it to its argument.
	Name string `json:"name"`
	// Data is the whole content of the file.
	Data []byte `json:"data"`
	// ModTime is the file's modification time on the client, so a command
	// run in the daemon sees the same file as one run locally (import
	// takes it as the receipt time); zero from an older client.
	ModTime time.Time `json:"mod_time,omitzero"`
}

// Handler executes one forwarded command. It writes the command's output to
// stdout and stderr, which stream to the client as it writes, and returns
// the process exit code the client should exit with. ctx is cancelled when
// the client disconnects or when the server gives up waiting at shutdown.
// stdout and stderr are safe for concurrent use; a write fails once the
// client is gone.
type Handler func(ctx context.Context, req Request, stdout, stderr io.Writer) (exit int)

// ErrNoDaemon is wrapped by Call's error when no daemon is listening: the
// socket file does not exist or the connection is refused (a stale socket).
// The CLI then opens the store itself.
var ErrNoDaemon = errors.New("no daemon listening")

// MaxRequestSize is the largest encoded request (JSON, so file contents
// count about 4/3 of their size) either side accepts. The daemon reads a
// request as its bytes arrive, never allocating what the header merely
// announces, so a stalled or lying client costs little; larger imports
// run with the daemon stopped, on the store directly.
const MaxRequestSize = 64 << 20

// MaxConns bounds the connections the daemon serves at once; one more is
// answered with an error and closed.
const MaxConns = 16

// ShutdownGrace bounds how long Serve waits for in-flight requests after
// its context is cancelled.
const ShutdownGrace = 10 * time.Second

// Frame kinds of the response stream.
const (
	kindStdout byte = 1
	kindStderr byte = 2
	kindExit   byte = 3
)

// magic starts every request; its last byte is the protocol version.
var magic = [4]byte{'d', 's', 'c', 1}

const (
	// maxChunk is the largest output payload the server puts in one frame.
	maxChunk = 1 << 20
	// maxFrame is the largest frame payload the client accepts; bigger
	// means a corrupt or foreign stream.
	maxFrame = 16 << 20
	// requestTimeout bounds reading the request, so a client that connects
	// and sends nothing cannot hold a goroutine forever.
	requestTimeout = 30 * time.Second
	// writeTimeout bounds each response write, so a client that stops
	// reading (suspended with ^Z) cannot block a handler, and whatever
	// store transaction it holds, forever.
	writeTimeout = time.Minute
	// dialTimeout bounds the liveness probe of an existing socket.
	dialTimeout = 2 * time.Second
)

// Listen creates the control socket at path and returns its listener.
//
// The parent directory is created with mode 0700 if missing. If a socket
// file already exists and nobody answers a dial, it is a leftover of a
// crashed daemon and is removed; if a daemon answers, Listen fails with
// "another daemon is listening on PATH". A path that exists but is not a
// socket is never removed. The new socket is chmod 0600.
//
// Call it after the store is open: the store's exclusive lock is what keeps
// two daemons from racing between the liveness probe and the bind.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create control socket directory: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod control socket: %w", err)
	}
	return ln, nil
}

// removeStale removes a socket file at path that nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control socket %s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, dialTimeout)
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("another daemon is listening on %s", path)
	case errors.Is(err, syscall.ECONNREFUSED):
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale control socket: %w", err)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return nil // removed meanwhile
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, os.ErrDeadlineExceeded):
		// A full accept backlog: someone is listening, just busy.
		return fmt.Errorf("another daemon is listening on %s", path)
	default:
		return fmt.Errorf("probe existing control socket: %w", err)
	}
}

// allowedUID reports whether a peer with uid may use a daemon running as
// own: the daemon's own user and root.
func allowedUID(uid, own uint32) bool {
	return uid == own || uid == 0
}

// Serve accepts connections on ln and runs h for each request, one
// goroutine per connection, until ctx is cancelled.
//
// Each connection recovers a panic in h: it logs it with the stack and
// answers exit code 1, and the server keeps serving. Serve cannot count
// panics; a daemon that counts them wraps h with its own recover, and this
// one remains the backstop.
//
// On cancellation Serve closes ln (which removes a unix socket file created
// by Listen), then waits up to ShutdownGrace for in-flight requests. Their
// contexts stay live meanwhile, so a command that has started finishes;
// after the grace period their contexts are cancelled, their connections
// closed, and Serve returns without waiting further. Serve returns nil after
// cancellation and the accept error otherwise.
func Serve(ctx context.Context, ln net.Listener, h Handler, log *slog.Logger) error {
	return serve(ctx, ln, h, log, ShutdownGrace)
}

func serve(ctx context.Context, ln net.Listener, h Handler, log *slog.Logger, grace time.Duration) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "control")

	// Requests outlive ctx by up to grace, so they get their own context.
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var acceptErr error
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors or similar: back off like
				// net/http instead of spinning or giving up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("accept failed, retrying", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
				}
				continue
			}
			acceptErr = fmt.Errorf("accept on control socket: %w", err)
			ln.Close()
			break
		}
		backoff = 0
		mu.Lock()
		full := len(conns) >= MaxConns
		if !full {
			conns[c] = struct{}{}
		}
		mu.Unlock()
		if full {
			log.Warn("too many control connections, refused one", "max", MaxConns)
			go refuse(c, fmt.Sprintf("disclosured: control socket: more than %d connections at once, try again\n", MaxConns))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
			serveConn(reqCtx, c, h, log)
		}()
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		mu.Lock()
		n := len(conns)
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		cancelReqs()
		log.Warn("requests still running at shutdown, cancelled them", "count", n, "grace", grace)
	}
	return acceptErr
}

// refuse answers a connection with an error and exit code 1, within a
// short deadline, without reading its request.
func refuse(c net.Conn, msg string) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	fw := &frameWriter{c: c}
	fmt.Fprint(&streamWriter{fw: fw, kind: kindStderr}, msg)
	fw.exit(1)
}

// serveConn handles one connection: peer check, request, handler, exit
// frame. It never panics.
func serveConn(ctx context.Context, c net.Conn, h Handler, log *slog.Logger) {
	defer c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fw := &frameWriter{c: c}
	out := &streamWriter{fw: fw, kind: kindStdout}
	errw := &streamWriter{fw: fw, kind: kindStderr}

	if err := checkPeer(c); err != nil {
		log.Warn("rejected control connection", "err", err)
		fmt.Fprintf(errw, "disclosured: control socket: %v\n", err)
		fw.exit(1)
		return
	}

	c.SetReadDeadline(time.Now().Add(requestTimeout))
	req, err := readRequest(c)
	if err != nil {
		log.Warn("bad control request", "err", err)
		fmt.Fprintf(errw, "disclosured: control socket: %v\n", err)
		fw.exit(1)
		return
	}
	c.SetReadDeadline(time.Time{})

	// The client sends nothing after the request; a read returning means it
	// closed the connection or died, and the command should stop.
	go func() {
		var b [1]byte
		c.Read(b[:])
		cancel()
	}()

	cmd := ""
	if len(req.Args) > 0 {
		cmd = req.Args[0]
	}
	start := time.Now()
	exit := runHandler(ctx, h, req, out, errw, log)
	if err := fw.exit(exit); err != nil {
		log.Info("control client went away", "command", cmd, "err", err)
		return
	}
	log.Debug("control command done", "command", cmd, "exit", exit, "duration", time.Since(start))
}

// runHandler calls h and turns a panic into exit code 1.
func runHandler(ctx context.Context, h Handler, req Request, stdout, stderr io.Writer, log *slog.Logger) (exit int) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic in control handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			fmt.Fprintln(stderr, "disclosured: internal error (see the daemon log)")
			exit = 1
		}
	}()
	return h(ctx, req, stdout, stderr)
}

// readRequest reads the magic, length and JSON of one request.
func readRequest(r io.Reader) (Request, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Request{}, fmt.Errorf("read request header: %w", err)
	}
	if !bytes.Equal(hdr[:4], magic[:]) {
		return Request{}, fmt.Errorf("unknown protocol %q (CLI and daemon from different releases?)", hdr[:4])
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > MaxRequestSize {
		return Request{}, fmt.Errorf("request of %d bytes exceeds the limit of %d bytes (stop the daemon to import larger files)", n, MaxRequestSize)
	}
	// Grow with what arrives, not with what the header announces.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return Request{}, fmt.Errorf("read request: %w", err)
	}
	var req Request
	if err := json.Unmarshal(buf.Bytes(), &req); err != nil {
		return Request{}, fmt.Errorf("decode request: %w", err)
	}
	return req, nil
}

// frameWriter writes response frames to a connection, one at a time.
type frameWriter struct {
	mu  sync.Mutex
	c   net.Conn
	err error // sticky: after a failed write the stream is broken
}

// frame writes one frame, header and payload in one writev.
func (fw *frameWriter) frame(kind byte, p []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.err != nil {
		return fw.err
	}
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	fw.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	bufs := net.Buffers{hdr[:], p}
	if _, err := bufs.WriteTo(fw.c); err != nil {
		fw.err = fmt.Errorf("write to control client: %w", err)
	}
	return fw.err
}

// exit writes the exit frame.
func (fw *frameWriter) exit(code int) error {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(int32(code)))
	return fw.frame(kindExit, p[:])
}

// streamWriter is the io.Writer a handler sees as stdout or stderr.
type streamWriter struct {
	fw   *frameWriter
	kind byte
}

// Write sends p as one or more frames of at most maxChunk bytes.
func (w *streamWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), maxChunk)]
		if err := w.fw.frame(w.kind, chunk); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// Call sends req to the daemon listening on path and streams its output to
// stdout and stderr until the daemon reports the exit code, which it
// returns.
//
// If the socket does not exist or the connection is refused (a stale
// socket), the error wraps ErrNoDaemon and the caller should run the command
// itself. Any other error (permission denied, a broken stream, a failed
// write to stdout, ctx cancelled) means the daemon may exist and the command
// may have run partly; the caller should report it, not retry locally.
func Call(ctx context.Context, path string, req Request, stdout, stderr io.Writer) (exit int, err error) {
	// Refuse an obviously oversized request before encoding it: the file
	// contents alone, base64-encoded, are a lower bound of its size.
	var est int
	for _, f := range req.Files {
		est += base64.StdEncoding.EncodedLen(len(f.Data))
	}
	if est > MaxRequestSize {
		return 0, fmt.Errorf("control request of more than %d bytes exceeds the limit of %d bytes (stop the daemon to import larger files)", est, MaxRequestSize)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("encode control request: %w", err)
	}
	if len(body) > MaxRequestSize {
		return 0, fmt.Errorf("control request of %d bytes exceeds the limit of %d bytes (stop the daemon to import larger files)", len(body), MaxRequestSize)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return 0, fmt.Errorf("%w on %s: %w", ErrNoDaemon, path, err)
		}
		return 0, fmt.Errorf("connect to daemon: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	wrap := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}

	hdr := make([]byte, 8, 8+len(body))
	copy(hdr, magic[:])
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(body)))
	if _, werr := (&net.Buffers{hdr, body}).WriteTo(c); werr != nil {
		// The daemon may have refused the request without reading it
		// (peer check, size limit) and said why before closing.
		if exit, err := readResponse(c, stdout, stderr); err == nil {
			return exit, nil
		}
		return 0, wrap(fmt.Errorf("send control request: %w", werr))
	}

	exit, err = readResponse(c, stdout, stderr)
	if err != nil {
		return 0, wrap(err)
	}
	return exit, nil
}

// readResponse copies output frames from r to stdout and stderr until the
// exit frame, whose code it returns.
func readResponse(r io.Reader, stdout, stderr io.Writer) (exit int, err error) {
	var fh [5]byte
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(r, fh[:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("daemon closed the connection without an exit status")
			}
			return 0, fmt.Errorf("read control response: %w", err)
		}
		n := binary.BigEndian.Uint32(fh[1:])
		if n > maxFrame {
			return 0, fmt.Errorf("read control response: frame of %d bytes exceeds the limit of %d", n, maxFrame)
		}
		if int(n) > len(buf) {
			buf = make([]byte, n)
		}
		p := buf[:n]
		if _, err := io.ReadFull(r, p); err != nil {
			return 0, fmt.Errorf("read control response: %w", err)
		}
		switch fh[0] {
		case kindStdout:
			if _, err := stdout.Write(p); err != nil {
				return 0, fmt.Errorf("write output: %w", err)
			}
		case kindStderr:
			if _, err := stderr.Write(p); err != nil {
				return 0, fmt.Errorf("write error output: %w", err)
			}
		case kindExit:
			if n != 4 {
				return 0, fmt.Errorf("read control response: exit frame of %d bytes", n)
			}
			return int(int32(binary.BigEndian.Uint32(p))), nil
		default:
			return 0, fmt.Errorf("read control response: unknown frame kind %d", fh[0])
		}
	}
}
