package workflow

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"time"

	"disclosured/mailbox"
)

// Import ingests one file, a single message or an mbox, as if its messages
// had come over IMAP at receivedAt (the file's modification time, unless
// the caller says otherwise). Each message is cut at limits.max_message_bytes
// exactly as the intake cuts it (mailbox.Cut). name is for errors only.
func (e *Engine) Import(ctx context.Context, name string, data []byte, receivedAt time.Time) ([]Outcome, error) {
	e = e.pin()
	limit := e.opts().MaxMessageBytes
	var batch []Incoming
	for _, raw := range splitMbox(data) {
		m := mailbox.Cut(raw, limit)
		batch = append(batch, Incoming{Raw: m.Raw, ReceivedAt: receivedAt, Truncated: m.Truncated, Size: m.Size})
	}
	out, err := e.Ingest(ctx, batch)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", name, err)
	}
	return out, nil
}

// splitMbox returns the messages of an mbox file (mboxrd: ">From " lines
// unquoted), or the whole file as one message when it is not an mbox.
func splitMbox(data []byte) [][]byte {
	if !bytes.HasPrefix(data, []byte("From ")) {
		return [][]byte{data}
	}
	var out [][]byte
	var cur []byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), len(data)+1)
	sc.Split(scanLinesKeepEnds)
	prevBlank := true
	for sc.Scan() {
		line := sc.Bytes()
		if prevBlank && bytes.HasPrefix(line, []byte("From ")) {
			if cur != nil {
				out = append(out, bytes.TrimRight(cur, "\r\n"))
			}
			cur = []byte{}
			prevBlank = false
			continue
		}
		if q := bytes.TrimLeft(line, ">"); len(q) < len(line) && bytes.HasPrefix(q, []byte("From ")) {
			line = line[1:]
		}
		cur = append(cur, line...)
		prevBlank = len(bytes.TrimRight(line, "\r\n")) == 0
	}
	if cur != nil {
		out = append(out, append(bytes.TrimRight(cur, "\r\n"), '\n'))
	}
	return out
}

func scanLinesKeepEnds(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
