package mailbox

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"
)

// Defaults for zero IMAPOptions fields.
const (
	defaultPollInterval    = 60 * time.Second
	defaultIdleRestart     = 10 * time.Minute
	defaultBatchBytes      = 16 << 20
	defaultBatchMessages   = 200
	defaultMaxMessageBytes = 64 << 20
	defaultMinBackoff      = time.Second
	defaultMaxBackoff      = 2 * time.Minute

	// defaultCommandTimeout bounds the wait for a command's response (or, while
	// streaming a FETCH, for the next message). imapclient has no read deadline
	// between responses (go-imap #742), so without it a half-open socket would
	// hang the intake until TCP keepalive gives up.
	defaultCommandTimeout = time.Minute
	dialTimeout           = 30 * time.Second
	tcpKeepAlive          = 30 * time.Second
	// shutdownGrace is how long a cancelled Run may spend closing IDLE and
	// logging out before the connection is closed under it.
	shutdownGrace = 2 * time.Second
)

// processedKeyword marks a message as processed when
// IMAPOptions.ProcessedMailbox is empty.
const processedKeyword imap.Flag = "$Processed"

// defaultProcessedMailbox receives processed mail on a server that cannot
// keep processedKeyword when IMAPOptions.ProcessedMailbox is empty (SPEC
// §7a).
const defaultProcessedMailbox = "Processed"

// IMAPOptions configures an Intake. Zero durations and sizes take the defaults
// given on each field.
type IMAPOptions struct {
	// Address is host:port of the IMAP server.
	Address string
	// TLS is "implicit" (port 993), "starttls" (port 143) or "none".
	TLS string
	// TLSConfig is used for "implicit" and "starttls"; nil means the system
	// defaults. ServerName defaults to the host of Address.
	TLSConfig *tls.Config
	// Username and Password log in with LOGIN, or with AUTHENTICATE PLAIN
	// when the server advertises AUTH=PLAIN or LOGINDISABLED. The password
	// is never logged.
	Username, Password string
	// Token, when set, logs in with SASL Mechanism and a bearer token
	// instead of the password, as Username. A refused token is fetched
	// afresh (fresh=true) and tried once more before the session backs off.
	Token TokenFunc
	// Mechanism is MechXOAUTH2 (default) or MechOAuthBearer.
	Mechanism string
	// OnLogin, if set, is called after every login: nil on success, a
	// *LoginError when the server refused it (after the retry with a fresh
	// token) or no token could be had. It is not called when the
	// connection broke before the server answered.
	OnLogin func(err error)
	// Mailbox is the mailbox to watch, usually "INBOX".
	Mailbox string
	// ProcessedMailbox, if set, receives processed messages (created when
	// missing). If empty, processed messages get \Seen and $Processed
	// instead, unless the server cannot keep $Processed (its PERMANENTFLAGS
	// lack it and \*, or a flagged message comes back unflagged): then they
	// are moved to "Processed". In move mode no keyword is ever sent.
	ProcessedMailbox string
	// PollInterval is the scan interval when the server lacks IDLE, and the
	// safety rescan interval while idling. Default 60s.
	PollInterval time.Duration
	// IdleRestart is how often IDLE is cycled, well below the 29-minute rule
	// of RFC 2177 §3 and aggressive NAT timeouts. Default 10m.
	IdleRestart time.Duration
	// BatchBytes and BatchMessages bound one Batch: the sum of message sizes
	// (after truncation) and the number of messages. A single message larger
	// than BatchBytes forms a batch of its own. Defaults 16 MiB and 200. Two
	// batches may be in memory at once: one being committed, the next fetched.
	BatchBytes    int64
	BatchMessages int
	// MaxMessageBytes is the most kept of one message; the rest is read and
	// discarded, and Message.Truncated is set. Default 64 MiB.
	MaxMessageBytes int64
	// MinBackoff and MaxBackoff bound the jittered exponential backoff used
	// for reconnecting and for retrying a failed Handler. Defaults 1s and 2m.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives one line per event, tagged component=imap. Nil
	// discards.
	Logger *slog.Logger
	// OnConnected, if set, is called after each successful login and SELECT.
	OnConnected func()
	// OnPanic, if set, is called for every panic the intake recovers
	// (component "imap"), so the daemon can count them.
	OnPanic func(where string)
	// OnScanFailure, if set, is called with the server's answer when two
	// sessions in a row failed with the same answer (SELECT, CREATE,
	// SEARCH, FETCH, STORE, COPY or MOVE refused), and with nil when a scan
	// completes after that.
	OnScanFailure func(err error)
	// OnForeignChange, if set, is called with the number of messages of a
	// committed batch that were gone when the intake marked them: another
	// client (a second daemon?) took them after our FETCH.
	OnForeignChange func(n int)
}

// Message is one fetched message.
type Message struct {
	// UID is the message's UID in Batch.Mailbox under Batch.UIDValidity.
	UID uint32
	// InternalDate is the server's delivery time (RFC 3501 §2.3.3).
	InternalDate time.Time
	// Size is the full RFC822.SIZE, even when Raw was truncated.
	Size int64
	// Truncated reports that Raw holds only the first MaxMessageBytes.
	Truncated bool
	// Raw is the message exactly as the server returned it for BODY.PEEK[].
	Raw []byte
}

// Batch is a group of messages handed to a Handler at once, in UID order.
type Batch struct {
	Mailbox     string
	UIDValidity uint32
	Messages    []Message
	// Remaining is how many messages the same scan will deliver in later
	// batches: more than zero while working through a backlog.
	Remaining int
}

// Handler receives each batch. It returns nil only once every message in the
// batch is durably committed; the intake then marks them processed. On error
// nothing is marked and the batch is offered again after a backoff.
type Handler func(ctx context.Context, b Batch) error

// PartialError is returned by a Handler that committed only the first Done
// messages of a batch (a store that ran out of room part way): the intake
// marks those processed and offers the rest again after a backoff.
type PartialError struct {
	Done int
	Err  error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d messages committed, then: %v", e.Done, e.Err)
}
func (e *PartialError) Unwrap() error { return e.Err }

// Intake watches one IMAP mailbox and feeds unprocessed messages to a Handler.
// Create it with NewIntake and start it with Run.
type Intake struct {
	o   IMAPOptions
	h   Handler
	log *slog.Logger

	kick      chan struct{}
	connected atomic.Bool
	lastPoll  atomic.Int64 // unix nanoseconds of the last completed scan; 0 = never
	panics    atomic.Int64 // recovered panics, for tests
	// maxBytes is MaxMessageBytes, changed by SetMaxMessageBytes.
	maxBytes atomic.Int64

	// commandTimeout is a field so tests can shorten it.
	commandTimeout time.Duration

	// Owned by the Run goroutine.
	uidValidity  uint32
	tokenRefused bool // the last token login was refused: skip the cache
	// noKeywords: the server cannot keep $Processed; sticky once seen.
	noKeywords bool
	// processed is the mailbox processed mail is moved to, "" to flag it.
	processed string
	// marked holds the UIDs flagged $Processed in this session, to notice
	// a server that accepts the keyword and forgets it.
	marked map[imap.UID]struct{}
	// lastFailure is the server's answer that ended the last session;
	// failureReported says OnScanFailure was told.
	lastFailure     string
	failureReported bool
	handlerBackoff  backoff
}

// NewIntake returns an Intake that delivers messages to h. It does no I/O.
func NewIntake(o IMAPOptions, h Handler) *Intake {
	if o.PollInterval <= 0 {
		o.PollInterval = defaultPollInterval
	}
	if o.IdleRestart <= 0 {
		o.IdleRestart = defaultIdleRestart
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = defaultBatchBytes
	}
	if o.BatchMessages <= 0 {
		o.BatchMessages = defaultBatchMessages
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = defaultMaxMessageBytes
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Intake{
		o:              o,
		h:              h,
		log:            log.With("component", "imap", "mailbox", o.Mailbox),
		kick:           make(chan struct{}, 1),
		commandTimeout: defaultCommandTimeout,
		handlerBackoff: backoff{min: o.MinBackoff, max: o.MaxBackoff},
	}
	in.maxBytes.Store(o.MaxMessageBytes)
	return in
}

// SetMaxMessageBytes changes the most kept of one message, from the next
// scan on (a reload of limits.max_message_bytes). n <= 0 is ignored.
func (in *Intake) SetMaxMessageBytes(n int64) {
	if n > 0 {
		in.maxBytes.Store(n)
	}
}

// Kick asks for a rescan as soon as possible, and cuts short the wait
// before a reconnect. It never blocks.
func (in *Intake) Kick() {
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// Connected reports whether the intake is logged in with its mailbox
// selected.
func (in *Intake) Connected() bool { return in.connected.Load() }

// LastPoll returns the time the last scan of the mailbox completed, or the
// zero time if none has.
func (in *Intake) LastPoll() time.Time {
	ns := in.lastPoll.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Run connects, delivers every unprocessed message, then waits for new mail
// with IDLE (RFC 2177) or by polling, until ctx is done. Any connection or
// server error ends the session; Run then reconnects after a jittered,
// exponentially growing delay, reset once a session got as far as a scan.
// Run returns nil when ctx is cancelled. Call Run at most once at a time.
func (in *Intake) Run(ctx context.Context) error {
	reconnect := backoff{min: in.o.MinBackoff, max: in.o.MaxBackoff}
	for {
		healthy, err := in.session(ctx)
		in.connected.Store(false)
		if ctx.Err() != nil {
			in.log.Info("imap intake stopped")
			return nil
		}
		if healthy {
			reconnect.reset()
		}
		d := reconnect.next()
		in.log.Warn("imap session ended; reconnecting", "err", err, "retry_in", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			in.log.Info("imap intake stopped")
			return nil
		case <-t.C:
		case <-in.kick:
			// A reload may have fixed what ended the session.
			t.Stop()
		}
	}
}

// handlerError marks an error returned by the Handler, which ends a scan but
// not the session.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return "handler: " + e.err.Error() }
func (e *handlerError) Unwrap() error { return e.err }

// session runs one connection from dial to logout. healthy reports whether
// it got as far as completing (or failing in the Handler during) a scan.
func (in *Intake) session(ctx context.Context) (healthy bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			in.recovered("imap session", v)
			err = fmt.Errorf("panic in imap session: %v", v)
		}
	}()

	// EXISTS arrives on the client's reader goroutine; the handler must not
	// block or call the client, so it only leaves a signal.
	updates := make(chan struct{}, 1)
	opts := &imapclient.Options{
		WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages == nil {
					return
				}
				select {
				case updates <- struct{}{}:
				default:
				}
			},
		},
	}
	c, err := in.dial(ctx, opts)
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", in.o.Address, err)
	}
	defer c.Close()

	// On cancellation give the session a moment to close IDLE and log out,
	// then close the connection under any command still blocked.
	stopCancel := context.AfterFunc(ctx, func() {
		time.AfterFunc(shutdownGrace, func() {
			defer in.recoverGoroutine("imap shutdown")
			c.Close()
		})
	})
	defer stopCancel()

	in.marked = map[imap.UID]struct{}{}
	caps, err := in.login(ctx, c)
	if err != nil {
		in.noteFailure(err)
		return false, err
	}
	in.connected.Store(true)
	if in.o.OnConnected != nil {
		in.callOnConnected()
	}

	for {
		err := in.scan(ctx, c, caps)
		var retryIn time.Duration
		var herr *handlerError
		switch {
		case ctx.Err() != nil:
			in.logout(c)
			return healthy, nil
		case errors.As(err, &herr):
			retryIn = in.handlerBackoff.next()
			in.log.Error("handler failed; batch left unmarked", "err", herr.err, "retry_in", retryIn)
		case err != nil:
			in.noteFailure(err)
			return healthy, err
		default:
			in.handlerBackoff.reset()
			in.noteFailure(nil)
		}
		healthy = true

		if caps.Has(imap.CapIdle) {
			err = in.idleWait(ctx, c, updates, retryIn)
		} else {
			err = in.pollWait(ctx, c, updates, retryIn)
		}
		if ctx.Err() != nil {
			in.logout(c)
			return healthy, nil
		}
		if err != nil {
			return healthy, err
		}
	}
}

// dial opens the connection for the configured TLS mode. It does what
// imapclient's DialTLS, DialStartTLS and DialInsecure do, but through
// DialContext so that cancelling ctx aborts a slow connect.
func (in *Intake) dial(ctx context.Context, opts *imapclient.Options) (*imapclient.Client, error) {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive}
	cfg := tlsConfigFor(in.o.TLSConfig, in.o.Address)
	switch in.o.TLS {
	case "implicit":
		if cfg.NextProtos == nil {
			cfg.NextProtos = []string{"imap"}
		}
		conn, err := (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", in.o.Address)
		if err != nil {
			return nil, err
		}
		return imapclient.New(conn, opts), nil
	case "starttls":
		conn, err := d.DialContext(ctx, "tcp", in.o.Address)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = cfg
		// NewStartTLS refuses PREAUTH on the cleartext connection
		// (RFC 3501 §6.2.1) and closes conn on error.
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		return imapclient.NewStartTLS(conn, opts)
	case "none", "":
		conn, err := d.DialContext(ctx, "tcp", in.o.Address)
		if err != nil {
			return nil, err
		}
		return imapclient.New(conn, opts), nil
	default:
		return nil, fmt.Errorf("unknown tls mode %q (want implicit, starttls or none)", in.o.TLS)
	}
}

// login authenticates, selects the mailbox, ensures the processed mailbox
// exists and returns the server's capabilities.
func (in *Intake) login(ctx context.Context, c *imapclient.Client) (imap.CapSet, error) {
	if err := in.authenticate(ctx, c); err != nil {
		return nil, fmt.Errorf("login as %s: %w", in.o.Username, err)
	}
	stop := in.guard(c, "select")
	defer stop()

	// Caps may block for up to 30s and return nil when the server never
	// answers; treat that as a server with no extensions (poll, COPY path).
	caps := c.Caps()
	if caps == nil {
		in.log.Warn("server capabilities unknown; assuming no IDLE, MOVE or UIDPLUS")
		caps = imap.CapSet{}
	}

	sel, err := c.Select(in.o.Mailbox, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("select %s: %w", in.o.Mailbox, err)
	}
	if in.uidValidity != 0 && sel.UIDValidity != in.uidValidity {
		// UIDs from before are meaningless now (RFC 3501 §2.3.1.1). The
		// caller deduplicates by content, so a full rescan is all we do.
		in.log.Warn("uidvalidity changed; rescanning whole mailbox",
			"old_uid_validity", in.uidValidity, "uid_validity", sel.UIDValidity)
	}
	in.uidValidity = sel.UIDValidity

	// RFC 3501 §7.1: without PERMANENTFLAGS every flag is permanent.
	if sel.PermanentFlags != nil && !slices.Contains(sel.PermanentFlags, imap.FlagWildcard) &&
		!containsFold(sel.PermanentFlags, processedKeyword) && !in.noKeywords {
		in.noKeywords = true
		in.log.Warn("server cannot keep the $Processed keyword; processed mail is moved instead and no keyword is sent",
			"permanent_flags", fmt.Sprint(sel.PermanentFlags), "processed_mailbox", in.processedMailbox())
	}
	in.processed = in.processedMailbox()
	if in.processed != "" {
		if err := in.ensureMailbox(c, in.processed); err != nil {
			return nil, err
		}
	}

	in.log.Info("imap connected",
		"uid_validity", sel.UIDValidity, "messages", sel.NumMessages,
		"idle", caps.Has(imap.CapIdle), "move", caps.Has(imap.CapMove), "uidplus", caps.Has(imap.CapUIDPlus))
	return caps, nil
}

// processedMailbox is where processed mail goes: the configured mailbox,
// else "Processed" on a server without keywords, else "" (flag it).
func (in *Intake) processedMailbox() string {
	if in.o.ProcessedMailbox == "" && in.noKeywords {
		return defaultProcessedMailbox
	}
	return in.o.ProcessedMailbox
}

// noteFailure remembers the server's answer that ended a session and tells
// OnScanFailure when the same answer ended two sessions in a row; nil (a
// completed scan) clears it. Errors without a server answer (a broken
// connection) and refused logins (reported through OnLogin) are not
// counted.
func (in *Intake) noteFailure(err error) {
	var ie *imap.Error
	if err != nil && (!errors.As(err, &ie) || IsLoginError(err)) {
		return
	}
	if err == nil {
		in.lastFailure = ""
		if in.failureReported {
			in.failureReported = false
			in.log.Info("imap scans work again")
			in.callOnScanFailure(nil)
		}
		return
	}
	msg := err.Error()
	if msg == in.lastFailure && !in.failureReported {
		in.failureReported = true
		in.log.Error("imap server refuses the scan the same way again; mail is not read until this is fixed", "err", err)
		in.callOnScanFailure(err)
	}
	in.lastFailure = msg
}

func (in *Intake) callOnScanFailure(err error) {
	if in.o.OnScanFailure == nil {
		return
	}
	defer in.recoverGoroutine("on scan failure callback")
	in.o.OnScanFailure(err)
}

// ensureMailbox creates name unless it exists.
func (in *Intake) ensureMailbox(c *imapclient.Client, name string) error {
	err := c.Create(name, nil).Wait()
	if err == nil {
		in.log.Info("created processed mailbox", "processed_mailbox", name)
		return nil
	}
	var ierr *imap.Error
	if errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	// Not every server sends [ALREADYEXISTS] (RFC 5530); look before failing.
	if l, lerr := c.List("", name, nil).Collect(); lerr == nil && len(l) > 0 {
		return nil
	}
	return fmt.Errorf("create %s: %w", name, err)
}

// scan delivers every unprocessed message in batches. It returns a
// *handlerError if the Handler failed; other errors concern the connection.
func (in *Intake) scan(ctx context.Context, c *imapclient.Client, caps imap.CapSet) error {
	// Move mode: UID SEARCH NOT DELETED, as processed mail is gone and
	// COPY-mode leftovers without UIDPLUS are \Deleted; no keyword, which
	// Exchange answers with BAD. Flag mode: also NOT KEYWORD $Processed.
	criteria := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}
	if in.processed == "" {
		criteria.NotFlag = append(criteria.NotFlag, processedKeyword)
	}
	stop := in.guard(c, "uid search")
	data, err := c.UIDSearch(criteria, nil).Wait()
	stop()
	if err != nil {
		return fmt.Errorf("search unprocessed: %w", err)
	}
	uids := data.AllUIDs()
	if in.processed == "" && slices.ContainsFunc(uids, func(u imap.UID) bool { _, ok := in.marked[u]; return ok }) {
		// We flagged these, and the server forgot: it ignores keywords.
		in.noKeywords = true
		in.processed = in.processedMailbox()
		in.log.Warn("server forgot the $Processed keyword; processed mail is moved instead and no keyword is sent",
			"processed_mailbox", in.processed)
		if err := in.ensureMailbox(c, in.processed); err != nil {
			return err
		}
	}
	if len(uids) > 0 {
		sizes, err := in.fetchSizes(c, uids)
		if err != nil {
			return err
		}
		plan := planBatches(sizes, in.o.BatchBytes, in.o.BatchMessages, in.maxBytes.Load())
		if err := in.processBatches(ctx, c, caps, plan, len(sizes)); err != nil {
			return err
		}
	}
	in.lastPoll.Store(time.Now().UnixNano())
	return nil
}

// processBatches fetches the planned batches, hands each to the Handler
// and, only once that succeeded, marks its messages processed. It is a
// pipeline: while the Handler commits batch k on its own goroutine, the
// intake marks batch k-1 and fetches batch k+1, so the IMAP round trips
// overlap the commit. Batches reach the Handler in order, one at a time,
// and the Handler call is always waited for before returning.
func (in *Intake) processBatches(ctx context.Context, c *imapclient.Client, caps imap.CapSet, plan [][]imap.UID, total int) error {
	if len(plan) == 0 {
		return nil
	}
	next, err := in.fetchBatch(c, plan[0])
	if err != nil {
		return err
	}
	remaining := total
	var committed []Message // handed over and committed, not yet marked
	for i := range plan {
		if ctx.Err() != nil {
			break // mark what is committed, then stop
		}
		cur := next
		next = nil
		remaining -= len(plan[i])
		var handled chan error
		if len(cur) > 0 { // empty if expunged by someone else meanwhile
			handled = make(chan error, 1)
			b := Batch{Mailbox: in.o.Mailbox, UIDValidity: in.uidValidity, Messages: cur, Remaining: remaining}
			go func() { handled <- in.callHandler(ctx, b) }()
		}
		var ioErr error
		if committed != nil {
			ioErr = in.markBatch(c, caps, committed)
			committed = nil
		}
		if ioErr == nil && i+1 < len(plan) {
			next, ioErr = in.fetchBatch(c, plan[i+1])
		}
		if handled != nil {
			if err := <-handled; err != nil {
				var pe *PartialError
				if errors.As(err, &pe) && pe.Done > 0 && pe.Done <= len(cur) && ioErr == nil {
					if merr := in.markBatch(c, caps, cur[:pe.Done]); merr != nil {
						return merr
					}
				}
				return &handlerError{err: err}
			}
			committed = cur
		}
		if ioErr != nil {
			return ioErr
		}
	}
	if committed != nil {
		if err := in.markBatch(c, caps, committed); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// markBatch marks the messages of a committed batch processed.
func (in *Intake) markBatch(c *imapclient.Client, caps imap.CapSet, msgs []Message) error {
	var bytes int64
	done := make([]imap.UID, len(msgs))
	for i, m := range msgs {
		done[i] = imap.UID(m.UID)
		bytes += int64(len(m.Raw))
	}
	if err := in.markProcessed(c, caps, imap.UIDSetNum(done...)); err != nil {
		// The Handler committed these; they will be offered again after
		// reconnecting and deduplicated by the caller.
		return fmt.Errorf("mark %d messages processed: %w", len(done), err)
	}
	in.log.Info("batch processed", "uid_validity", in.uidValidity, "messages", len(msgs), "bytes", bytes,
		"first_uid", msgs[0].UID, "last_uid", msgs[len(msgs)-1].UID)
	return nil
}

// sizedUID is a UID with its RFC822.SIZE, for planning batches.
type sizedUID struct {
	uid  imap.UID
	size int64
}

// fetchSizes asks for the size of each message so batches can be planned
// without holding message bodies.
func (in *Intake) fetchSizes(c *imapclient.Client, uids []imap.UID) ([]sizedUID, error) {
	cmd := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true})
	t := in.watch(c, "uid fetch rfc822.size")
	defer t.Stop()
	var out []sizedUID
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		t.Reset(in.commandTimeout)
		buf, err := msg.Collect()
		if err != nil {
			cmd.Close()
			return nil, fmt.Errorf("fetch sizes: %w", err)
		}
		if buf.UID != 0 {
			out = append(out, sizedUID{uid: buf.UID, size: buf.RFC822Size})
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("fetch sizes: %w", err)
	}
	slices.SortFunc(out, func(a, b sizedUID) int { return cmp.Compare(a.uid, b.uid) })
	return out, nil
}

// planBatches groups UIDs, in order, into batches of at most maxMsgs
// messages whose sizes (capped at maxMsgBytes, as that is all we keep) add up
// to at most maxBytes. A message bigger than maxBytes gets a batch alone.
func planBatches(sizes []sizedUID, maxBytes int64, maxMsgs int, maxMsgBytes int64) [][]imap.UID {
	var (
		out   [][]imap.UID
		cur   []imap.UID
		total int64
	)
	for _, s := range sizes {
		size := min(max(s.size, 0), maxMsgBytes)
		if len(cur) > 0 && (len(cur) >= maxMsgs || total+size > maxBytes) {
			out = append(out, cur)
			cur, total = nil, 0
		}
		cur = append(cur, s.uid)
		total += size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// fetchBatch streams one batch of messages, keeping at most MaxMessageBytes
// of each.
func (in *Intake) fetchBatch(c *imapclient.Client, uids []imap.UID) ([]Message, error) {
	// UID is requested first (imapclient puts it first), so each message is
	// routed to this command before its body literal arrives.
	cmd := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID:          true,
		InternalDate: true,
		RFC822Size:   true,
		BodySection:  []*imap.FetchItemBodySection{{Peek: true}},
	})
	t := in.watch(c, "uid fetch body.peek[]")
	defer t.Stop()
	var msgs []Message
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		t.Reset(in.commandTimeout)
		m, ok, err := in.readMessage(msg, t)
		if err != nil {
			// A body that broke off leaves the stream in an unknown
			// state; draining it (cmd.Close) would read the dead literal
			// again. Drop the connection; the session reconnects and the
			// unmarked messages are fetched anew.
			c.Close()
			return nil, err
		}
		if ok {
			msgs = append(msgs, m)
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("fetch messages: %w", err)
	}
	slices.SortFunc(msgs, func(a, b Message) int { return cmp.Compare(a.UID, b.UID) })
	return msgs, nil
}

// readMessage reads one FETCH response. ok is false if it lacked a UID or a
// body, which a well-behaved server never sends; such a message is skipped
// and, being unmarked, retried on the next scan.
//
// Each read of the body resets progress, so a large message on a slow link is
// not mistaken for a dead connection; imapclient's own 5-minute literal
// deadline still applies to a stall inside a literal.
func (in *Intake) readMessage(msg *imapclient.FetchMessageData, progress *time.Timer) (m Message, ok bool, err error) {
	var total int64
	gotBody := false
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			m.UID = uint32(it.UID)
		case imapclient.FetchItemDataInternalDate:
			m.InternalDate = it.Time
		case imapclient.FetchItemDataRFC822Size:
			m.Size = it.Size
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil {
				continue
			}
			lit := &progressReader{LiteralReader: it.Literal, t: progress, d: in.commandTimeout}
			m.Raw, total, m.Truncated, err = readLimited(lit, in.maxBytes.Load())
			if err != nil {
				return m, false, fmt.Errorf("read message uid %d: %w", m.UID, err)
			}
			gotBody = true
		}
	}
	if m.UID == 0 || !gotBody {
		in.log.Warn("server sent fetch response without uid or body; skipping", "uid", m.UID, "seq", msg.SeqNum)
		return m, false, nil
	}
	if m.Size == 0 {
		m.Size = total
	}
	return m, true, nil
}

// progressReader resets a watchdog timer whenever data arrives.
type progressReader struct {
	imap.LiteralReader
	t *time.Timer
	d time.Duration
}

func (r *progressReader) Read(p []byte) (int, error) {
	n, err := r.LiteralReader.Read(p)
	if n > 0 {
		r.t.Reset(r.d)
	}
	return n, err
}

// readLimited keeps the first limit bytes of r and discards the rest. total
// is the number of bytes read.
func readLimited(r imap.LiteralReader, limit int64) (raw []byte, total int64, truncated bool, err error) {
	var buf bytes.Buffer
	if n := min(r.Size(), limit); n > 0 {
		// bytes.Buffer.ReadFrom wants MinRead bytes free before every
		// read, including the one that only sees EOF: without the slack a
		// full buffer is doubled just to learn that the literal ended.
		buf.Grow(int(n) + bytes.MinRead)
	}
	n, err := io.Copy(&buf, io.LimitReader(r, limit))
	if err != nil {
		return nil, n, false, err
	}
	var rest int64
	if n == limit {
		// Never read a literal again after it ended: imapclient hands
		// the connection back to its reader goroutine at that point.
		if rest, err = io.Copy(io.Discard, r); err != nil {
			return nil, n + rest, false, err
		}
	}
	// A literal that ends before its announced size means the connection
	// broke inside the message: it must not pass for a whole message.
	if size := r.Size(); n+rest < size {
		return nil, n + rest, false, fmt.Errorf("message ended after %d of %d bytes: %w", n+rest, size, io.ErrUnexpectedEOF)
	}
	return buf.Bytes(), n + rest, rest > 0, nil
}

// Cut applies the intake's size limit to a message read whole (import): it
// keeps the first limit bytes, as readLimited does while streaming, with
// Truncated set and Size the original size. limit <= 0 keeps everything.
func Cut(raw []byte, limit int64) Message {
	m := Message{Raw: raw, Size: int64(len(raw))}
	if limit > 0 && m.Size > limit {
		m.Raw, m.Truncated = raw[:limit:limit], true
	}
	return m
}

// markProcessed marks uids processed, waiting for each step, so that a
// failure never removes a message that was not copied.
func (in *Intake) markProcessed(c *imapclient.Client, caps imap.CapSet, uids imap.UIDSet) error {
	stop := in.guard(c, "mark processed")
	defer stop()
	pm := in.processed
	switch {
	case pm != "" && caps.Has(imap.CapMove):
		// RFC 6851 §3.1: UID MOVE is atomic.
		md, err := c.Move(uids, pm).Wait()
		if err != nil {
			return fmt.Errorf("move to %s: %w", pm, err)
		}
		if md != nil && md.SourceUIDs != nil && caps.Has(imap.CapUIDPlus) {
			if src, ok := md.SourceUIDs.(imap.UIDSet); ok {
				in.checkVanished(uids, src, "move")
			}
		}
	case pm != "":
		// Never imapclient's Move fallback here: it pipelines STORE and
		// EXPUNGE without waiting for COPY, and a plain EXPUNGE would remove
		// other clients' \Deleted mail.
		cd, err := c.Copy(uids, pm).Wait()
		if err != nil {
			return fmt.Errorf("copy to %s: %w", pm, err)
		}
		if cd != nil && cd.SourceUIDs != nil && caps.Has(imap.CapUIDPlus) {
			in.checkVanished(uids, cd.SourceUIDs, "copy")
		}
		flags := []imap.Flag{imap.FlagDeleted, imap.FlagSeen}
		if !in.noKeywords {
			flags = append(flags, processedKeyword)
		}
		err = c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: flags}, nil).Close()
		if err != nil {
			return fmt.Errorf("flag copied messages deleted: %w", err)
		}
		if caps.Has(imap.CapUIDPlus) {
			// RFC 4315 §2.1: UID EXPUNGE removes only these UIDs.
			if err := c.UIDExpunge(uids).Close(); err != nil {
				return fmt.Errorf("uid expunge: %w", err)
			}
		} else if err := in.expungeIfOnlyOurs(c, uids); err != nil {
			return err
		}
	default:
		// Not silent: the FETCH replies show whether the keyword stuck.
		bufs, err := c.Store(uids, &imap.StoreFlags{
			Op:    imap.StoreFlagsAdd,
			Flags: []imap.Flag{imap.FlagSeen, processedKeyword},
		}, nil).Collect()
		if err != nil {
			return fmt.Errorf("flag messages processed: %w", err)
		}
		// A server that keeps keywords echoes $Processed for each message
		// it flagged. Replies without it are a server that dropped the
		// keyword (when none has it) or unilateral updates of messages
		// someone else changed, such as one set \Deleted meanwhile.
		var stored imap.UIDSet
		withFlags := 0
		for _, b := range bufs {
			if b.Flags == nil {
				continue
			}
			withFlags++
			if b.UID != 0 && containsFold(b.Flags, processedKeyword) {
				stored.AddNum(b.UID)
			}
		}
		forgot := withFlags > 0 && len(stored) == 0
		if !forgot && len(stored) > 0 {
			in.checkVanished(uids, stored, "store")
		}
		if nums, ok := uids.Nums(); ok {
			for _, u := range nums {
				in.marked[u] = struct{}{}
			}
		}
		if forgot {
			// Accepted and dropped: move these, and all later mail.
			in.noKeywords = true
			in.processed = in.processedMailbox()
			in.log.Warn("server dropped the $Processed keyword; processed mail is moved instead and no keyword is sent",
				"processed_mailbox", in.processed)
			if err := in.ensureMailbox(c, in.processed); err != nil {
				return err
			}
			return in.markProcessed(c, caps, uids)
		}
	}
	return nil
}

// checkVanished reports the messages of want that the server's answer to
// our marking, got, does not name: they vanished between our FETCH and the
// marking, taken by another client — most likely a second daemon on the
// same mailbox (issue 12 §4), or a person who moved them.
func (in *Intake) checkVanished(want, got imap.UIDSet, how string) {
	nums, ok := want.Nums()
	if !ok {
		return
	}
	var gone []imap.UID
	for _, u := range nums {
		if !got.Contains(u) {
			gone = append(gone, u)
		}
	}
	if len(gone) == 0 {
		return
	}
	in.log.Warn("messages vanished between our fetch and our "+how+": another client is processing this mailbox; run one daemon per mailbox",
		"uid_validity", in.uidValidity, "messages", len(gone), "first_uid", gone[0])
	if in.o.OnForeignChange != nil {
		func() {
			defer in.recoverGoroutine("on foreign change callback")
			in.o.OnForeignChange(len(gone))
		}()
	}
}

// expungeIfOnlyOurs expunges without UIDPLUS only when every \Deleted
// message in the mailbox is one we just copied, so EXPUNGE cannot remove
// another client's \Deleted mail (libraries.md "Move can lose mail").
// Otherwise ours stay \Deleted, which the scan skips, until a later batch
// finds the mailbox clean.
func (in *Intake) expungeIfOnlyOurs(c *imapclient.Client, ours imap.UIDSet) error {
	data, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("search deleted: %w", err)
	}
	for _, u := range data.AllUIDs() {
		if !ours.Contains(u) {
			in.log.Info("other \\Deleted mail in the mailbox; leaving the processed copies flagged \\Deleted instead of expunging")
			return nil
		}
	}
	if err := c.Expunge().Close(); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	return nil
}

// idleWait idles until new mail, a kick, a timer or ctx ends it. While a
// Handler retry is pending (retryIn > 0), new mail does not cut the backoff
// short; a kick does.
func (in *Intake) idleWait(ctx context.Context, c *imapclient.Client, updates <-chan struct{}, retryIn time.Duration) error {
	if retryIn == 0 {
		// Mail that arrived during the scan: scan again without idling.
		select {
		case <-updates:
			return nil
		case <-in.kick:
			return nil
		default:
		}
	}

	stop := in.guard(c, "idle")
	idle, err := c.Idle()
	stop()
	if err != nil {
		return fmt.Errorf("start idle: %w", err)
	}

	// Leave IDLE at least every IdleRestart (NAT timeouts) and rescan every
	// PollInterval in case a notification was missed.
	timer := time.NewTimer(min(in.o.IdleRestart, in.o.PollInterval))
	defer timer.Stop()
	var retry <-chan time.Time
	if retryIn > 0 {
		rt := time.NewTimer(retryIn)
		defer rt.Stop()
		retry = rt.C
	}

wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-updates:
			if retry == nil {
				break wait
			}
		case <-in.kick:
			break wait
		case <-timer.C:
			break wait
		case <-retry:
			break wait
		case <-c.Closed():
			return errors.New("connection closed while idling")
		}
	}

	// The DONE and its tagged response are the liveness check for an idle
	// connection: a half-open socket fails here within commandTimeout.
	stop = in.guard(c, "idle done")
	defer stop()
	if err := idle.Close(); err != nil {
		return fmt.Errorf("stop idle: %w", err)
	}
	if err := idle.Wait(); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	return nil
}

// pollWait waits for the next scan on a server without IDLE.
func (in *Intake) pollWait(ctx context.Context, c *imapclient.Client, updates <-chan struct{}, retryIn time.Duration) error {
	d := in.o.PollInterval
	if retryIn > 0 {
		d = retryIn
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-updates:
			// EXISTS seen in a response to our own commands.
			if retryIn == 0 {
				return nil
			}
		case <-in.kick:
			return nil
		case <-t.C:
			return nil
		case <-c.Closed():
			return errors.New("connection closed")
		}
	}
}

// logout ends the session politely, within shutdownGrace.
func (in *Intake) logout(c *imapclient.Client) {
	stop := in.guardFor(c, "logout", shutdownGrace)
	defer stop()
	if err := c.Logout().Wait(); err != nil {
		in.log.Debug("logout failed", "err", err)
	}
}

// callHandler runs the Handler, turning a panic into an error so that one
// hostile message cannot stop the intake.
func (in *Intake) callHandler(ctx context.Context, b Batch) (err error) {
	defer func() {
		if v := recover(); v != nil {
			in.recovered("handler", v)
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return in.h(ctx, b)
}

func (in *Intake) callOnConnected() {
	defer in.recoverGoroutine("on connected callback")
	in.o.OnConnected()
}

// guard closes c if the caller has not called the returned stop within
// commandTimeout. Closing fails every pending command, which unblocks the
// Run goroutine.
func (in *Intake) guard(c *imapclient.Client, what string) (stop func()) {
	return in.guardFor(c, what, in.commandTimeout)
}

func (in *Intake) guardFor(c *imapclient.Client, what string, d time.Duration) (stop func()) {
	t := in.watchFor(c, what, d)
	return func() { t.Stop() }
}

// watch is guard for streaming commands: the caller resets the returned
// timer on progress and stops it when done.
func (in *Intake) watch(c *imapclient.Client, what string) *time.Timer {
	return in.watchFor(c, what, in.commandTimeout)
}

func (in *Intake) watchFor(c *imapclient.Client, what string, d time.Duration) *time.Timer {
	return time.AfterFunc(d, func() {
		defer in.recoverGoroutine("imap watchdog")
		in.log.Warn("imap server did not answer; closing connection", "command", what, "timeout", d)
		c.Close()
	})
}

// recoverGoroutine is deferred at the top of every goroutine this package
// starts.
func (in *Intake) recoverGoroutine(where string) {
	if v := recover(); v != nil {
		in.recovered(where, v)
	}
}

func (in *Intake) recovered(where string, v any) {
	in.panics.Add(1)
	if in.o.OnPanic != nil {
		in.o.OnPanic(where)
	}
	in.log.Error("panic recovered", "where", where, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
}

// tlsConfigFor returns a copy of cfg with ServerName defaulting to the host
// of address.
func tlsConfigFor(cfg *tls.Config, address string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(address); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg
}

func containsFold(flags []imap.Flag, f imap.Flag) bool {
	return slices.ContainsFunc(flags, func(g imap.Flag) bool { return strings.EqualFold(string(g), string(f)) })
}
