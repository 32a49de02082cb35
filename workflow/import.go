package workflow

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"disclosured/mailbox"
	"disclosured/mbox"
)

// Import ingests one file, a single message or an mbox, as if its messages
// had come over IMAP at receivedAt (the file's modification time, unless
// the caller says otherwise); name's extension decides whether it may be an
// mbox. Each message is cut at limits.max_message_bytes
// exactly as the intake cuts it (mailbox.Cut).
func (e *Engine) Import(ctx context.Context, name string, data []byte, receivedAt time.Time) ([]Outcome, error) {
	e = e.pin()
	limit := e.opts().MaxMessageBytes
	var batch []Incoming
	// A .eml file is one message even when it starts with an mbox envelope
	// line: a bounce may quote the returned message with its own envelope
	// line, which an mbox reader takes for the next message (issue 14).
	// Anything else may be an mbox.
	msgs := [][]byte{data}
	if !strings.EqualFold(filepath.Ext(name), ".eml") {
		msgs = mbox.Split(data)
	}
	for _, raw := range msgs {
		m := mailbox.Cut(raw, limit)
		batch = append(batch, Incoming{Raw: m.Raw, ReceivedAt: receivedAt, Truncated: m.Truncated, Size: m.Size})
	}
	out, err := e.Ingest(ctx, batch)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	return out, nil
}
