// Package mailbox moves raw mail between disclosured and its mail servers:
// an IMAP Intake that watches the security@ mailbox and hands new messages to
// a Handler in bounded batches, and an SMTP Sender that submits outgoing mail
// over one reused connection. It works on bytes only and knows nothing of
// cases, threads or templates.
//
// # Processed-marking invariant
//
// A message is marked processed on the IMAP server only after the Handler
// returned nil for the batch that contained it; the Handler returns nil only
// once every message of the batch is durably committed (SPEC §8 "no message
// is lost"). Marking is either a move to IMAPOptions.ProcessedMailbox or, when
// that is empty, the flags \Seen and $Processed. A server that cannot keep
// $Processed (PERMANENTFLAGS without it or \*, as Exchange Online, or one
// that drops the keyword it was given) gets no keyword at all: processed
// mail is moved to "Processed" instead, and the scan, which in move mode
// looks only for messages that are not \Deleted, never names a keyword. If
// the Handler fails, the
// process crashes, or the connection drops between the Handler's commit and
// the marking, the messages stay unmarked and are delivered again on the next
// scan. Delivery is therefore at-least-once, and the caller deduplicates (by
// content hash). The same holds when UIDVALIDITY changes: the mailbox is
// simply rescanned.
//
// Fetching uses BODY.PEEK[] (RFC 3501 §6.4.5), so reading a message never sets
// \Seen by itself. Without the MOVE extension (RFC 6851) the move is done as
// UID COPY, then STORE \Deleted, then UID EXPUNGE (RFC 4315) when UIDPLUS
// exists, so a failed COPY never loses the source. Without UIDPLUS a plain
// EXPUNGE follows only when UID SEARCH DELETED finds nothing but the copied
// messages, so it does not remove another client's \Deleted mail (a client
// that sets \Deleted in the instant between the two commands is the one
// window left); otherwise ours stay \Deleted, which the scan skips.
//
// # Login
//
// Password login uses IMAP LOGIN, or AUTHENTICATE PLAIN when the server
// advertises AUTH=PLAIN or LOGINDISABLED, and SMTP AUTH PLAIN, or LOGIN when
// that is all the server offers. With a TokenFunc both log in with SASL
// XOAUTH2 or OAUTHBEARER; a refused token is fetched afresh once on the same
// connection. Every refusal is a *LoginError, reported to OnLogin: for SMTP
// it is never permanent, as it is our account's outage and not a fault of
// the message.
//
// # Goroutines
//
// Intake.Run owns the IMAP connection and is the only goroutine that sends
// commands on it. The IMAP reader goroutine only does a non-blocking send on
// a channel when the server reports EXISTS. Timers that close a stalled
// connection run on their own goroutines; like every goroutine this package
// starts, they recover and log panics. Sender is safe for concurrent use; a
// mutex serialises submissions over its single connection.
package mailbox
