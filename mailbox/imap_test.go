package mailbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// waitTimeout bounds every wait in these tests; a healthy run takes
// milliseconds.
const waitTimeout = 10 * time.Second

var (
	capsRev1     = imap.CapSet{imap.CapIMAP4rev1: {}}
	capsMove     = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapMove: {}, imap.CapUIDPlus: {}}
	capsUIDPlus  = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}}
	testUser     = "u"
	testPassword = "p"
)

// testServer is an in-process IMAP server whose connections can be
// observed, stripped of IDLE, frozen, and restarted on the same address.
type testServer struct {
	t         *testing.T
	mem       *imapmemserver.Server
	user      *imapmemserver.User
	caps      imap.CapSet
	stripIdle bool // hide the IDLE capability from clients
	tlsMode   string
	tlsConfig *tls.Config

	mu    sync.Mutex
	addr  string
	srv   *imapserver.Server
	conns []*wrapConn

	idles   atomic.Int64 // IDLE commands seen
	logouts atomic.Int64 // LOGOUT commands seen
	// cutFetch, when set, makes the next write carrying a message body
	// stop half way and drop the connection (once).
	cutFetch atomic.Bool

	// Set before start: mechs, when not nil, are the SASL mechanisms
	// offered (PLAIN checks the password, XOAUTH2 and OAUTHBEARER ask
	// token); noLogin refuses LOGIN; capsLine, when set, replaces every
	// capability list the server sends.
	mechs    []string
	token    func(user, token string) bool
	noLogin  bool
	capsLine string
	badAcks  atomic.Int64 // wrong client answers to a refusal challenge
	// keywordCmds counts client commands naming the $Processed keyword.
	keywordCmds atomic.Int64
	authUsed    sync.Map // mechanism ("LOGIN" for LOGIN) -> *atomic.Int64
}

func newTestServer(t *testing.T, caps imap.CapSet, stripIdle bool) *testServer {
	t.Helper()
	return newTestServerTLS(t, caps, stripIdle, "none", nil)
}

// newTestServerTLS serves with tlsMode "implicit", "starttls" or "none".
func newTestServerTLS(t *testing.T, caps imap.CapSet, stripIdle bool, tlsMode string, cfg *tls.Config) *testServer {
	t.Helper()
	return newTestServerSetup(t, caps, stripIdle, tlsMode, cfg, nil)
}

// newTestServerWith lets setup change the server before it starts.
func newTestServerWith(t *testing.T, caps imap.CapSet, setup func(*testServer)) *testServer {
	t.Helper()
	return newTestServerSetup(t, caps, false, "none", nil, setup)
}

func newTestServerSetup(t *testing.T, caps imap.CapSet, stripIdle bool, tlsMode string, cfg *tls.Config, setup func(*testServer)) *testServer {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(testUser, testPassword)
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	ts := &testServer{t: t, mem: mem, user: u, caps: caps, stripIdle: stripIdle, tlsMode: tlsMode, tlsConfig: cfg}
	if setup != nil {
		setup(ts)
	}
	ts.start()
	t.Cleanup(ts.stop)
	return ts
}

// start serves on the previous address, or a fresh port the first time.
func (ts *testServer) start() {
	ts.t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	addr := ts.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		ts.t.Fatalf("listen: %v", err)
	}
	ts.addr = ln.Addr().String()
	var starttls *tls.Config
	switch ts.tlsMode {
	case "implicit":
		ln = tls.NewListener(ln, ts.tlsConfig)
	case "starttls":
		starttls = ts.tlsConfig
	}
	ts.srv = imapserver.New(&imapserver.Options{
		TLSConfig: starttls,
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			s := eagerIdleSession{ts.mem.NewSession()}
			if ts.mechs != nil || ts.noLogin {
				return &saslSession{eagerIdleSession: s, ts: ts}, nil, nil
			}
			return s, nil, nil
		},
		Caps:         ts.caps,
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
		DebugWriter:  debugWriter(ts.t),
	})
	go ts.srv.Serve(&wrapListener{Listener: ln, ts: ts})
}

// stop closes the listener and every connection.
func (ts *testServer) stop() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.srv != nil {
		ts.srv.Close()
		ts.srv = nil
	}
}

func (ts *testServer) restart() {
	ts.t.Helper()
	ts.stop()
	ts.start()
}

func (ts *testServer) address() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.addr
}

// freeze makes every open connection half-open: the server keeps reading
// but nothing it writes reaches the client.
func (ts *testServer) freeze() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, c := range ts.conns {
		c.frozen.Store(true)
	}
}

func (ts *testServer) append(t *testing.T, mailbox string, raw []byte, date time.Time) {
	t.Helper()
	if _, err := ts.user.Append(mailbox, bytes.NewReader(raw), &imap.AppendOptions{Time: date}); err != nil {
		t.Fatalf("append: %v", err)
	}
}

// serverMessage is a message as another client sees it.
type serverMessage struct {
	uid   uint32
	flags []imap.Flag
}

func (m serverMessage) has(f imap.Flag) bool { return containsFold(m.flags, f) }

// messages lists mailbox over a separate, read-only connection.
func (ts *testServer) messages(t *testing.T, mailbox string) []serverMessage {
	t.Helper()
	c, err := imapclient.DialInsecure(ts.address(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("select %s: %v", mailbox, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	bufs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	var out []serverMessage
	for _, b := range bufs {
		out = append(out, serverMessage{uid: uint32(b.UID), flags: b.Flags})
	}
	c.Logout().Wait()
	return out
}

// eagerIdleSession makes imapmemserver's IDLE report changes queued before
// IDLE began, as Dovecot does. imapmemserver only pushes changes made after
// its IDLE handler registered, which races with a test that appends as soon
// as it sees the IDLE command. Polling the session's queue every millisecond
// inside IDLE closes that window.
type eagerIdleSession struct{ imapserver.Session }

func (s eagerIdleSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		if err := s.Session.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
	}
}

// Move keeps the MOVE extension (imapserver.SessionMove) visible through the
// wrapper.
func (s eagerIdleSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	return s.Session.(imapserver.SessionMove).Move(w, numSet, dest)
}

type wrapListener struct {
	net.Listener
	ts *testServer
}

func (l *wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := &wrapConn{Conn: c, ts: l.ts}
	if l.ts.capsLine != "" {
		wc.caps = &capRewriter{caps: l.ts.capsLine}
	}
	l.ts.mu.Lock()
	l.ts.conns = append(l.ts.conns, wc)
	l.ts.mu.Unlock()
	return wc, nil
}

type wrapConn struct {
	net.Conn
	ts     *testServer
	frozen atomic.Bool
	caps   *capRewriter // nil: capabilities as imapserver has them
}

func (c *wrapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	// Clients flush each command in one write, so a read holds it whole.
	if bytes.Contains(p[:n], []byte(" IDLE\r\n")) {
		c.ts.idles.Add(1)
	}
	if bytes.Contains(p[:n], []byte(" LOGOUT\r\n")) {
		c.ts.logouts.Add(1)
	}
	if bytes.Contains(bytes.ToUpper(p[:n]), []byte("$PROCESSED")) {
		c.ts.keywordCmds.Add(1)
	}
	return n, err
}

func (c *wrapConn) Write(p []byte) (int, error) {
	if c.frozen.Load() {
		return len(p), nil
	}
	if c.caps != nil {
		n := len(p)
		if _, err := c.write(c.caps.rewrite(p)); err != nil {
			return 0, err
		}
		return n, nil
	}
	return c.write(p)
}

func (c *wrapConn) write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("BODY[] {")) && c.ts.cutFetch.CompareAndSwap(true, false) {
		c.Conn.Write(p[:len(p)/2])
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	if c.ts.stripIdle {
		if _, err := c.Conn.Write(bytes.ReplaceAll(p, []byte(" IDLE"), nil)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// recorder is a Handler that records batches and can be told to fail.
type recorder struct {
	mu      sync.Mutex
	batches []Batch
	calls   int
	fail    func(call int) error // nil: always succeed
	got     chan Batch
}

func newRecorder() *recorder { return &recorder{got: make(chan Batch, 100)} }

func (r *recorder) handle(ctx context.Context, b Batch) error {
	r.mu.Lock()
	r.calls++
	call := r.calls
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(call); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.batches = append(r.batches, b)
	r.mu.Unlock()
	r.got <- b
	return nil
}

// wait returns the next n messages delivered successfully, in order.
func (r *recorder) wait(t *testing.T, n int) []Message {
	t.Helper()
	var msgs []Message
	deadline := time.After(waitTimeout)
	for len(msgs) < n {
		select {
		case b := <-r.got:
			msgs = append(msgs, b.Messages...)
		case <-deadline:
			t.Fatalf("got %d messages, want %d", len(msgs), n)
		}
	}
	return msgs
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not synchronising
	}
}

// testLogger writes to t.Log until the test ends.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func testOptions(t *testing.T, ts *testServer) IMAPOptions {
	return IMAPOptions{
		Address:      ts.address(),
		TLS:          "none",
		Username:     testUser,
		Password:     testPassword,
		Mailbox:      "INBOX",
		PollInterval: time.Hour, // only IDLE, kicks and retries wake a test intake
		MinBackoff:   5 * time.Millisecond,
		MaxBackoff:   50 * time.Millisecond,
		Logger:       testLogger(t),
	}
}

// runningIntake is an Intake running in the background for one test.
type runningIntake struct {
	*Intake
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startIntake runs an intake until the test ends, then checks that Run
// returned nil promptly and that no panic was recovered.
func startIntake(t *testing.T, o IMAPOptions, h Handler) *runningIntake {
	t.Helper()
	in := NewIntake(o, h)
	in.commandTimeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	ri := &runningIntake{Intake: in, cancel: cancel, done: make(chan error, 1)}
	go func() { ri.done <- in.Run(ctx) }()
	t.Cleanup(func() {
		ri.stop(t)
		if n := in.panics.Load(); n != 0 {
			t.Errorf("%d panics recovered", n)
		}
	})
	return ri
}

// stop cancels Run and checks it returns nil promptly. Only the first call
// does anything.
func (ri *runningIntake) stop(t *testing.T) {
	t.Helper()
	ri.once.Do(func() {
		ri.cancel()
		select {
		case err := <-ri.done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(shutdownGrace + 2*time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
}

func testMessage(i int) []byte {
	return fmt.Appendf(nil, "From: reporter@example.org\r\nTo: security@example.net\r\n"+
		"Subject: report %03d\r\nMessage-ID: <%03d@example.org>\r\n\r\nbody %03d\r\n", i, i, i)
}

func TestIntakeDeliversExistingMailInBatches(t *testing.T) {
	size := int64(len(testMessage(0)))
	tests := []struct {
		name          string
		batchMessages int
		batchBytes    int64
		n             int
		want          []int // messages per batch
		remaining     []int // Batch.Remaining per batch
	}{
		{name: "defaults", n: 5, want: []int{5}, remaining: []int{0}},
		{name: "by count", batchMessages: 2, n: 5, want: []int{2, 2, 1}, remaining: []int{3, 1, 0}},
		{name: "by bytes", batchBytes: 2*size + size/2, n: 5, want: []int{2, 2, 1}, remaining: []int{3, 1, 0}},
		{name: "bytes smaller than one message", batchBytes: 1, n: 3, want: []int{1, 1, 1}, remaining: []int{2, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, capsRev1, false)
			base := time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600))
			for i := range tt.n {
				ts.append(t, "INBOX", testMessage(i), base.Add(time.Duration(i)*time.Hour))
			}
			rec := newRecorder()
			o := testOptions(t, ts)
			o.BatchMessages, o.BatchBytes = tt.batchMessages, tt.batchBytes
			connected := make(chan struct{}, 10)
			o.OnConnected = func() { connected <- struct{}{} }
			in := startIntake(t, o, rec.handle)

			msgs := rec.wait(t, tt.n)
			for i, m := range msgs {
				if !bytes.Equal(m.Raw, testMessage(i)) {
					t.Errorf("message %d: raw = %q, want %q", i, m.Raw, testMessage(i))
				}
				if want := base.Add(time.Duration(i) * time.Hour); !m.InternalDate.Equal(want) {
					t.Errorf("message %d: internal date = %v, want %v", i, m.InternalDate, want)
				}
				if m.Size != size || m.Truncated {
					t.Errorf("message %d: size %d truncated %v, want %d false", i, m.Size, m.Truncated, size)
				}
			}
			rec.mu.Lock()
			var shape, remaining []int
			for _, b := range rec.batches {
				shape = append(shape, len(b.Messages))
				remaining = append(remaining, b.Remaining)
				if b.Mailbox != "INBOX" || b.UIDValidity == 0 {
					t.Errorf("batch mailbox %q uidvalidity %d", b.Mailbox, b.UIDValidity)
				}
			}
			rec.mu.Unlock()
			if !slices.Equal(shape, tt.want) {
				t.Errorf("batch sizes = %v, want %v", shape, tt.want)
			}
			if !slices.Equal(remaining, tt.remaining) {
				t.Errorf("remaining after each batch = %v, want %v", remaining, tt.remaining)
			}

			waitMarked(t, ts, tt.n)
			waitFor(t, "LastPoll", func() bool { return !in.LastPoll().IsZero() })
			if !in.Connected() {
				t.Error("Connected() = false while running")
			}
			select {
			case <-connected:
			default:
				t.Error("OnConnected not called")
			}
		})
	}
}

func TestIntakeIdleDeliversPromptly(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	rec := newRecorder()
	in := startIntake(t, testOptions(t, ts), rec.handle)

	for i := range 3 {
		// Each delivery ends one IDLE; the intake then idles again.
		waitFor(t, "intake to idle", func() bool { return ts.idles.Load() > int64(i) })
		start := time.Now()
		ts.append(t, "INBOX", testMessage(i), time.Now())
		msgs := rec.wait(t, 1)
		latency := time.Since(start)
		t.Logf("message %d delivered %v after APPEND", i, latency)
		if !bytes.Equal(msgs[0].Raw, testMessage(i)) {
			t.Errorf("got %q", msgs[0].Raw)
		}
		if latency > time.Second {
			t.Errorf("delivery took %v, want well under 1s", latency)
		}
	}

	// Shutdown leaves IDLE and logs out.
	in.stop(t)
	if ts.logouts.Load() == 0 {
		t.Error("no LOGOUT on shutdown")
	}
}

func TestIntakeHandlerErrorRetries(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	for i := range 2 {
		ts.append(t, "INBOX", testMessage(i), time.Now())
	}
	rec := newRecorder()
	failed := make(chan int, 10)
	rec.fail = func(call int) error {
		if call <= 3 {
			failed <- call
			return errors.New("store unavailable")
		}
		return nil
	}
	startIntake(t, testOptions(t, ts), rec.handle)

	for range 3 {
		select {
		case <-failed:
		case <-time.After(waitTimeout):
			t.Fatal("handler not retried")
		}
		for _, m := range ts.messages(t, "INBOX") {
			if m.has(imap.FlagSeen) || m.has(processedKeyword) {
				t.Fatalf("uid %d marked %v after handler error", m.uid, m.flags)
			}
		}
	}
	msgs := rec.wait(t, 2)
	for i, m := range msgs {
		if !bytes.Equal(m.Raw, testMessage(i)) {
			t.Errorf("message %d: got %q", i, m.Raw)
		}
	}
	waitMarked(t, ts, 2)
}

// TestIntakePipelineMarksOnlyCommitted: with batches pipelined (the next
// fetched while the Handler commits the current one), a batch whose Handler
// fails is not marked, nor is any batch after it, while the batch before
// it is; after the retry every message has been committed once, in order.
func TestIntakePipelineMarksOnlyCommitted(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	for i := range 4 {
		ts.append(t, "INBOX", testMessage(i), time.Now())
	}
	rec := newRecorder()
	failedOnce := make(chan []uint32, 1)
	rec.fail = func(call int) error {
		if call != 2 {
			return nil
		}
		var marked []uint32
		for _, m := range ts.messages(t, "INBOX") {
			if m.has(processedKeyword) {
				marked = append(marked, m.uid)
			}
		}
		failedOnce <- marked
		return errors.New("store unavailable")
	}
	o := testOptions(t, ts)
	o.BatchMessages = 1
	startIntake(t, o, rec.handle)

	select {
	case marked := <-failedOnce:
		if slices.Contains(marked, 2) || slices.Contains(marked, 3) || slices.Contains(marked, 4) {
			t.Errorf("while batch 2 was failing, marked UIDs %v include it or later ones", marked)
		}
	case <-time.After(waitTimeout):
		t.Fatal("handler never failed")
	}
	msgs := rec.wait(t, 4)
	for i, m := range msgs {
		if !bytes.Equal(m.Raw, testMessage(i)) {
			t.Errorf("committed message %d is %q, want message %d once and in order", i, m.Raw, i)
		}
	}
	waitMarked(t, ts, 4)
	select {
	case b := <-rec.got:
		t.Errorf("message UID %d committed again after it was marked", b.Messages[0].UID)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestIntakeHandlerPanicIsRetried(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	ts.append(t, "INBOX", testMessage(0), time.Now())
	rec := newRecorder()
	rec.fail = func(call int) error {
		if call == 1 {
			panic("hostile mail")
		}
		return nil
	}
	in := NewIntake(testOptions(t, ts), rec.handle)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	rec.wait(t, 1)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if n := in.panics.Load(); n != 1 {
		t.Errorf("panics = %d, want 1", n)
	}
}

func TestIntakeMovesToProcessedMailbox(t *testing.T) {
	tests := []struct {
		name      string
		caps      imap.CapSet
		wantInbox int // messages left in INBOX (flagged \Deleted) after processing
	}{
		{name: "MOVE", caps: capsMove, wantInbox: 0},
		{name: "COPY and UID EXPUNGE", caps: capsUIDPlus, wantInbox: 0},
		{name: "COPY without UIDPLUS", caps: capsRev1, wantInbox: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.caps, false)
			for i := range 3 {
				ts.append(t, "INBOX", testMessage(i), time.Now())
			}
			// Another client's \Deleted mail must survive: only a plain
			// EXPUNGE would remove it.
			ts.append(t, "INBOX", testMessage(99), time.Now())
			other := ts.messages(t, "INBOX")[3].uid
			setDeleted(t, ts, other)

			rec := newRecorder()
			o := testOptions(t, ts)
			o.ProcessedMailbox = "Processed"
			startIntake(t, o, rec.handle)
			rec.wait(t, 3)

			// Processed has the copies, and INBOX has settled: the
			// originals are expunged or, without UIDPLUS, flagged \Deleted.
			var inbox []serverMessage
			waitFor(t, "messages moved", func() bool {
				if len(ts.messages(t, "Processed")) != 3 {
					return false
				}
				inbox = ts.messages(t, "INBOX")
				left := 0
				for _, m := range inbox {
					if m.uid == other {
						continue
					}
					if !m.has(imap.FlagDeleted) || !m.has(processedKeyword) {
						return false
					}
					left++
				}
				return left == tt.wantInbox
			})
			if !slices.ContainsFunc(inbox, func(m serverMessage) bool { return m.uid == other }) {
				t.Error("another client's \\Deleted message was expunged")
			}

			// New mail is delivered once; the processed ones are not again.
			ts.append(t, "INBOX", testMessage(3), time.Now())
			msgs := rec.wait(t, 1)
			if !bytes.Equal(msgs[0].Raw, testMessage(3)) {
				t.Errorf("got %q, want message 3", msgs[0].Raw)
			}
			waitFor(t, "fourth message moved", func() bool { return len(ts.messages(t, "Processed")) == 4 })
			select {
			case b := <-rec.got:
				t.Errorf("unexpected redelivery of %d messages", len(b.Messages))
			default:
			}
		})
	}
}

func setDeleted(t *testing.T, ts *testServer, uid uint32) {
	t.Helper()
	c, err := imapclient.DialInsecure(ts.address(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	err = c.Store(imap.UIDSetNum(imap.UID(uid)), &imap.StoreFlags{
		Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted},
	}, nil).Close()
	if err != nil {
		t.Fatal(err)
	}
}

func TestIntakeWithoutIdle(t *testing.T) {
	tests := []struct {
		name string
		poll time.Duration
		kick bool
	}{
		{name: "polls", poll: 20 * time.Millisecond},
		{name: "kick", poll: time.Hour, kick: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, capsRev1, true)
			rec := newRecorder()
			o := testOptions(t, ts)
			o.PollInterval = tt.poll
			in := startIntake(t, o, rec.handle)
			waitFor(t, "first scan", func() bool { return !in.LastPoll().IsZero() })

			ts.append(t, "INBOX", testMessage(0), time.Now())
			if tt.kick {
				in.Kick()
			}
			msgs := rec.wait(t, 1)
			if !bytes.Equal(msgs[0].Raw, testMessage(0)) {
				t.Errorf("got %q", msgs[0].Raw)
			}
			if n := ts.idles.Load(); n != 0 {
				t.Errorf("client sent IDLE %d times to a server without IDLE", n)
			}
		})
	}
}

func TestIntakeReconnectsAfterServerRestart(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	rec := newRecorder()
	var connects atomic.Int64
	o := testOptions(t, ts)
	o.OnConnected = func() { connects.Add(1) }
	in := startIntake(t, o, rec.handle)

	ts.append(t, "INBOX", testMessage(0), time.Now())
	rec.wait(t, 1)
	waitMarked(t, ts, 1)

	ts.stop()
	waitFor(t, "Connected() false", func() bool { return !in.Connected() })
	ts.append(t, "INBOX", testMessage(1), time.Now())
	ts.start()

	msgs := rec.wait(t, 1)
	if !bytes.Equal(msgs[0].Raw, testMessage(1)) {
		t.Errorf("got %q, want message 1", msgs[0].Raw)
	}
	waitFor(t, "Connected() true", in.Connected)
	if n := connects.Load(); n < 2 {
		t.Errorf("OnConnected called %d times, want at least 2", n)
	}
}

func TestIntakeDetectsHalfOpenConnection(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	rec := newRecorder()
	o := testOptions(t, ts)
	o.PollInterval = 50 * time.Millisecond // leave IDLE often
	in := NewIntake(o, rec.handle)
	in.commandTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	waitFor(t, "intake to idle", func() bool { return ts.idles.Load() > 0 })
	ts.freeze()
	ts.append(t, "INBOX", testMessage(0), time.Now())
	msgs := rec.wait(t, 1)
	if !bytes.Equal(msgs[0].Raw, testMessage(0)) {
		t.Errorf("got %q", msgs[0].Raw)
	}
}

func TestIntakeUIDValidityChange(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	rec := newRecorder()
	startIntake(t, testOptions(t, ts), rec.handle)

	ts.append(t, "INBOX", testMessage(0), time.Now())
	rec.wait(t, 1)
	waitMarked(t, ts, 1)
	rec.mu.Lock()
	first := rec.batches[0].UIDValidity
	rec.mu.Unlock()

	ts.stop()
	if err := ts.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := ts.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	ts.append(t, "INBOX", testMessage(0), time.Now())
	ts.append(t, "INBOX", testMessage(1), time.Now())
	ts.start()

	msgs := rec.wait(t, 2)
	for i, m := range msgs {
		if !bytes.Equal(m.Raw, testMessage(i)) {
			t.Errorf("message %d: got %q", i, m.Raw)
		}
	}
	rec.mu.Lock()
	last := rec.batches[len(rec.batches)-1].UIDValidity
	rec.mu.Unlock()
	if last == first {
		t.Errorf("uidvalidity still %d after recreating the mailbox", last)
	}
}

func TestIntakeTruncatesLargeMessages(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	big := append(testMessage(0), bytes.Repeat([]byte("x"), 1000)...)
	small := testMessage(1)
	ts.append(t, "INBOX", big, time.Now())
	ts.append(t, "INBOX", small, time.Now())
	rec := newRecorder()
	o := testOptions(t, ts)
	o.MaxMessageBytes = 200
	startIntake(t, o, rec.handle)

	msgs := rec.wait(t, 2)
	tests := []struct {
		raw       []byte
		wantRaw   []byte
		truncated bool
	}{
		{raw: big, wantRaw: big[:200], truncated: true},
		{raw: small, wantRaw: small},
	}
	for i, tt := range tests {
		m := msgs[i]
		if !bytes.Equal(m.Raw, tt.wantRaw) || m.Truncated != tt.truncated || m.Size != int64(len(tt.raw)) {
			t.Errorf("message %d: len %d truncated %v size %d, want len %d truncated %v size %d",
				i, len(m.Raw), m.Truncated, m.Size, len(tt.wantRaw), tt.truncated, len(tt.raw))
		}
	}
	waitMarked(t, ts, 2)
}

// waitMarked waits until INBOX holds n messages, all flagged processed.
func waitMarked(t *testing.T, ts *testServer, n int) {
	t.Helper()
	waitFor(t, "messages marked \\Seen $Processed", func() bool {
		ms := ts.messages(t, "INBOX")
		for _, m := range ms {
			if !m.has(imap.FlagSeen) || !m.has(processedKeyword) {
				return false
			}
		}
		return len(ms) == n
	})
}

// TestIntakeRedeliversWhenMarkingFails covers the window between the
// Handler's commit and the marking: the connection drops, nothing is marked,
// and the same message is offered again (the caller deduplicates).
func TestIntakeRedeliversWhenMarkingFails(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	ts.append(t, "INBOX", testMessage(0), time.Now())
	rec := newRecorder()
	rec.fail = func(call int) error {
		if call == 1 {
			ts.restart() // drops the intake's connection before it can mark
		}
		return nil
	}
	startIntake(t, testOptions(t, ts), rec.handle)

	msgs := rec.wait(t, 2)
	for i, m := range msgs {
		if !bytes.Equal(m.Raw, testMessage(0)) {
			t.Errorf("delivery %d: got %q", i, m.Raw)
		}
	}
	waitMarked(t, ts, 1)
}

func TestPlanBatches(t *testing.T) {
	sz := func(sizes ...int64) []sizedUID {
		var out []sizedUID
		for i, s := range sizes {
			out = append(out, sizedUID{uid: imap.UID(i + 1), size: s})
		}
		return out
	}
	tests := []struct {
		name     string
		sizes    []sizedUID
		maxBytes int64
		maxMsgs  int
		maxMsg   int64
		want     [][]imap.UID
	}{
		{name: "empty", maxBytes: 10, maxMsgs: 2, maxMsg: 10},
		{name: "count", sizes: sz(1, 1, 1), maxBytes: 100, maxMsgs: 2, maxMsg: 100, want: [][]imap.UID{{1, 2}, {3}}},
		{name: "bytes", sizes: sz(4, 4, 4), maxBytes: 8, maxMsgs: 10, maxMsg: 100, want: [][]imap.UID{{1, 2}, {3}}},
		{name: "oversize alone", sizes: sz(1, 50, 1), maxBytes: 10, maxMsgs: 10, maxMsg: 100, want: [][]imap.UID{{1}, {2}, {3}}},
		{name: "truncated size counts", sizes: sz(50, 50), maxBytes: 10, maxMsgs: 10, maxMsg: 5, want: [][]imap.UID{{1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planBatches(tt.sizes, tt.maxBytes, tt.maxMsgs, tt.maxMsg)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	var prevCap time.Duration
	for i := range 20 {
		d := b.next()
		capD := min(b.min<<i, b.max)
		if d < b.min || d > capD {
			t.Errorf("attempt %d: %v outside [%v, %v]", i, d, b.min, capD)
		}
		prevCap = capD
	}
	if prevCap != b.max {
		t.Errorf("backoff never reached max")
	}
	b.reset()
	if d := b.next(); d > b.min {
		t.Errorf("after reset: %v, want %v", d, b.min)
	}
}

func debugWriter(t *testing.T) io.Writer {
	if os.Getenv("IMAPDEBUG") == "" {
		return nil
	}
	return &testWriter{t: t}
}

func TestIntakeTLSModes(t *testing.T) {
	serverCfg, clientCfg := testTLSConfigs(t)
	for _, mode := range []string{"implicit", "starttls", "none"} {
		t.Run(mode, func(t *testing.T) {
			ts := newTestServerTLS(t, capsRev1, false, mode, serverCfg)
			ts.append(t, "INBOX", testMessage(0), time.Now())
			rec := newRecorder()
			o := testOptions(t, ts)
			o.TLS, o.TLSConfig = mode, clientCfg
			startIntake(t, o, rec.handle)
			if msgs := rec.wait(t, 1); !bytes.Equal(msgs[0].Raw, testMessage(0)) {
				t.Errorf("got %q", msgs[0].Raw)
			}
		})
	}
}

// TestIntakeSurvivesConnectionDroppedMidFetch: the server dies half way
// through sending a message body; nothing partial reaches the handler, the
// intake reconnects, and the message is delivered whole, once.
func TestIntakeSurvivesConnectionDroppedMidFetch(t *testing.T) {
	ts := newTestServer(t, capsRev1, false)
	big := append(testMessage(7), bytes.Repeat([]byte("0123456789abcdef\r\n"), 20000)...)
	ts.append(t, "INBOX", big, time.Now())
	ts.cutFetch.Store(true)
	rec := newRecorder()
	var connects atomic.Int64
	o := testOptions(t, ts)
	o.OnConnected = func() { connects.Add(1) }
	startIntake(t, o, rec.handle)
	msgs := rec.wait(t, 1)
	if !bytes.Equal(msgs[0].Raw, big) {
		t.Errorf("delivered %d bytes, want the whole %d-byte message", len(msgs[0].Raw), len(big))
	}
	waitMarked(t, ts, 1)
	if ts.cutFetch.Load() {
		t.Fatal("the fetch was never cut; the test did not test anything")
	}
	if n := connects.Load(); n < 2 {
		t.Errorf("connected %d times, want a reconnect after the cut", n)
	}
	select {
	case b := <-rec.got:
		t.Errorf("delivered again: %d messages", len(b.Messages))
	case <-time.After(200 * time.Millisecond):
	}
}

// sizedReader is an IMAP literal of a known size, as imapclient hands it over.
type sizedReader struct {
	*bytes.Reader
	size int64
}

func (r sizedReader) Size() int64 { return r.size }

// TestReadLimitedHoldsOneCopy: reading a large literal allocates it once.
// A buffer sized exactly to the literal used to be doubled by the final read
// that only sees EOF, which put a second, larger copy on the heap.
func TestReadLimitedHoldsOneCopy(t *testing.T) {
	const size = 8 << 20
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	for _, tc := range []struct {
		name  string
		limit int64
		want  int // bytes kept
	}{
		{"whole", 1 << 30, size},
		{"truncated", size / 2, size / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			raw, total, truncated, err := readLimited(sizedReader{bytes.NewReader(body), size}, tc.limit)
			runtime.ReadMemStats(&after)
			if err != nil || len(raw) != tc.want || total != size || truncated != (tc.want < size) {
				t.Fatalf("got %d bytes of %d, truncated %v, err %v", len(raw), total, truncated, err)
			}
			if !bytes.Equal(raw, body[:tc.want]) {
				t.Fatal("bytes differ from the literal")
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > allocFactor*uint64(tc.want)+uint64(tc.want)/4 {
				t.Errorf("allocated %d bytes to read %d", got, tc.want)
			}
		})
	}
}
