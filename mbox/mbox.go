// Package mbox splits an mbox file into its messages, for `disclosured
// import`. It is a leaf: bytes in, messages out, no I/O.
//
// An mbox is a sequence of messages, each introduced by an envelope line
// "From <sender> <asctime date>" (RFC 4155). Writers escape a "From " at
// the start of a body line as ">From " (mboxrd) — but not every writer
// does, and a bounce quotes the returned message with its own envelope
// line. So, as careful mboxrd/mboxcl readers do, a line starts a new
// message only when
//
//   - it follows a blank line (or is the first line),
//   - it is a plausible envelope: "From ", a sender without spaces, then a
//     date with a clock time and a four-digit year, and
//   - the next line is a header field.
//
// Everything else stays in the message it is in, and one level of
// mboxrd quoting (">From ", ">>From ", …) is removed.
package mbox

import "bytes"

// Split returns the messages of data, each without its envelope line and
// without the blank line that separates it from the next. Data that does
// not start with an envelope line is one message, returned whole.
func Split(data []byte) [][]byte {
	if !bytes.HasPrefix(data, []byte("From ")) {
		return [][]byte{data}
	}
	var lines [][]byte
	for rest := data; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			lines = append(lines, rest)
			break
		}
		lines = append(lines, rest[:i+1])
		rest = rest[i+1:]
	}
	var out [][]byte
	var cur []byte
	started := false
	for i, line := range lines {
		if (i == 0 || isBlank(lines[i-1])) && IsEnvelope(line) && (i+1 >= len(lines) || isHeaderLine(lines[i+1])) {
			if started {
				out = append(out, trimSeparator(cur))
			}
			cur, started = []byte{}, true
			continue
		}
		if q := bytes.TrimLeft(line, ">"); len(q) < len(line) && bytes.HasPrefix(q, []byte("From ")) {
			line = line[1:]
		}
		cur = append(cur, line...)
	}
	if started {
		out = append(out, cur)
	}
	return out
}

// trimSeparator drops the one blank line an mbox writer puts before the
// next envelope line.
func trimSeparator(b []byte) []byte {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n\r\n")):
		return b[:len(b)-2]
	case bytes.HasSuffix(b, []byte("\n\n")):
		return b[:len(b)-1]
	}
	return b
}

func isBlank(line []byte) bool { return len(bytes.TrimRight(line, "\r\n")) == 0 }

// IsEnvelope reports whether line is a plausible mbox envelope line:
// "From sender date", the date holding a time hh:mm and a year, as in
// "From MAILER-DAEMON  Sat Oct  4 08:00:09 2025".
func IsEnvelope(line []byte) bool {
	rest, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("From "))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " ")
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return false
	}
	date := rest[sp:]
	return hasClock(date) && hasYear(date)
}

func hasClock(b []byte) bool {
	for i := 1; i+2 < len(b); i++ {
		if b[i] == ':' && isDigit(b[i-1]) && isDigit(b[i+1]) && isDigit(b[i+2]) {
			return true
		}
	}
	return false
}

func hasYear(b []byte) bool {
	for i := 0; i+4 <= len(b); i++ {
		if (i == 0 || !isDigit(b[i-1])) && (i+4 == len(b) || !isDigit(b[i+4])) &&
			(b[i] == '1' && b[i+1] == '9' || b[i] == '2' && b[i+1] == '0') && isDigit(b[i+2]) && isDigit(b[i+3]) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isHeaderLine reports whether line is an RFC 5322 header field
// ("Name: value"; printable ASCII name without colon or space).
func isHeaderLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	for _, c := range line[:i] {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
