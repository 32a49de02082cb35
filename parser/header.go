package parser

import (
	"bufio"
	"bytes"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"unicode"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"
)

// wordDecoder decodes RFC 2047 encoded words in any charset go-message
// knows. mime.WordDecoder holds no mutable state, so one value is shared.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// normalise prepares the raw bytes for the header reader:
//
//   - bare-CR line endings (old Mac mail) become LF; go-message would
//     otherwise read the whole message as one header field and silently
//     return an empty body;
//   - one leading mbox "From " envelope line is dropped (go-message
//     treats it as a malformed header);
//   - leading whitespace-only lines are dropped.
func (p *parser) normalise(raw []byte) []byte {
	b := raw
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	if bytes.IndexByte(b, '\r') >= 0 {
		lf := bytes.Count(b, []byte("\n"))
		crlf := bytes.Count(b, []byte("\r\n"))
		bareCR := bytes.Count(b, []byte("\r")) - crlf
		if bareCR > lf {
			out := make([]byte, len(b))
			for i, c := range b {
				if c == '\r' && (i+1 >= len(b) || b[i+1] != '\n') {
					c = '\n'
				}
				out[i] = c
			}
			b = out
		}
	}
	// Leading blank lines, possibly around one mbox From_ line.
	fromLine := false
	for len(b) > 0 {
		line, rest := cutLine(b)
		if len(bytes.TrimSpace(line)) == 0 {
			if len(rest) == 0 {
				break
			}
			p.problemf("blank line before the header")
			b = rest
			continue
		}
		if !fromLine && bytes.HasPrefix(line, []byte("From ")) && !looksLikeHeaderField(line) {
			fromLine = true
			b = rest
			continue
		}
		break
	}
	return b
}

// looksLikeHeaderField reports whether line is "Name: value" with a valid
// field name.
func looksLikeHeaderField(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	key := bytes.TrimRight(line[:i], " \t")
	if len(key) == 0 {
		return false
	}
	for _, c := range key {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// cutLine returns the first line of b (without its LF or CRLF) and the rest
// after the line ending.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.TrimSuffix(b, []byte("\r")), b[len(b):]
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:]
}

// splitHeader separates the header block of an entity from its body and
// parses it leniently. Lines that cannot be header fields are dropped, an
// indented first field is accepted, a header that runs into the body
// without a blank line ends at the first line that has no colon, and fields
// beyond the size limit are dropped. ok is false when the entity has no
// header at all; the whole input is then the body.
func (p *parser) splitHeader(b []byte, what string) (h message.Header, body []byte, ok bool) {
	var clean bytes.Buffer
	rest := b
	first := true
	keep := false // whether continuation lines belong to a kept field
	oversize := false
	bodyStart := len(b)
	for len(rest) > 0 {
		start := len(b) - len(rest)
		line, next := cutLine(rest)
		rest = next
		if len(line) == 0 {
			bodyStart = len(b) - len(rest)
			if first {
				// An empty header is valid (RFC 2046 §5.1.1 for parts).
				return h, b[bodyStart:], true
			}
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !first {
				if keep && len(bytes.TrimSpace(line)) > 0 {
					if clean.Len()+len(line) > p.lim.MaxHeaderBytes {
						oversize, keep = true, false
						continue
					}
					clean.Write(line)
					clean.WriteString("\r\n")
				}
				continue
			}
			line = bytes.TrimLeft(line, " \t")
			p.problemf("%s header starts with whitespace", what)
		}
		if !looksLikeHeaderField(line) {
			if first {
				return h, b, false
			}
			if bytes.IndexByte(line, ':') < 0 {
				// The header ran into the body without a blank line.
				p.problemf("%s header not terminated by a blank line", what)
				bodyStart = start
				break
			}
			p.problemf("%s header: dropped malformed field %q", what, truncateUTF8(string(line), 60))
			keep = false
			continue
		}
		first = false
		if clean.Len()+len(line) > p.lim.MaxHeaderBytes {
			oversize, keep = true, false
			continue
		}
		keep = true
		clean.Write(line)
		clean.WriteString("\r\n")
	}
	if first {
		// Only blank space: no header.
		return h, b, false
	}
	if oversize {
		p.problemf("%s header exceeds %d bytes; fields dropped", what, p.lim.MaxHeaderBytes)
	}
	clean.WriteString("\r\n")
	th, err := textproto.ReadHeader(bufio.NewReader(&clean))
	if err != nil {
		p.problemf("%s header: %v", what, err)
	}
	return message.Header{Header: th}, b[bodyStart:], true
}

// decodeText decodes RFC 2047 encoded words in a free-text field value.
// Undecodable words and raw 8-bit bytes are kept, made valid UTF-8.
func decodeText(v string) string {
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	}
	return validUTF8(v)
}

var angleAddrRe = regexp.MustCompile(`<([^\s<>"(),;:\[\]]+@[^\s<>"(),;:\[\]]+)>\s*$`)

var addrSpecRe = regexp.MustCompile(`[^\s<>"(),;:\[\]]+@[^\s<>"(),;:\[\]]+`)

// parseAddressList parses an address field. When the field does not follow
// RFC 5322 it falls back to picking out anything that looks like an
// addr-spec, so a sloppy From line still yields a sender.
func parseAddressList(v string) []Address {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	ap := mail.AddressParser{WordDecoder: wordDecoder}
	if l, err := ap.ParseList(v); err == nil {
		out := make([]Address, 0, len(l))
		for _, a := range l {
			out = append(out, cleanAddress(a.Name, a.Address, false))
		}
		return capList(out)
	}
	var out []Address
	for _, piece := range splitAddressList(v) {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			continue
		}
		if a, err := ap.Parse(piece); err == nil {
			out = append(out, cleanAddress(a.Name, a.Address, false))
			continue
		}
		// An angle address closing the piece is the address, whatever
		// broke the display name before it (raw 8-bit bytes, an unquoted
		// '@'). Anything else picked out of the text may well come from
		// the display name of a broken field: it is marked guessed.
		var addr, name string
		guessed := false
		if m := angleAddrRe.FindStringSubmatchIndex(piece); m != nil {
			addr, name = piece[m[2]:m[3]], piece[:m[0]]
		} else if addr = addrSpecRe.FindString(piece); addr != "" {
			name, guessed = strings.Replace(piece, addr, "", 1), true
		} else {
			name = piece
		}
		name = strings.Trim(name, " \t<>\"'")
		if addr == "" && name == "" {
			continue
		}
		out = append(out, cleanAddress(decodeText(name), addr, guessed))
	}
	return capList(out)
}

func cleanAddress(name, addr string, guessed bool) Address {
	return Address{Name: cleanValue(name, MaxNameBytes), Addr: cleanValue(addr, MaxAddrBytes), Guessed: guessed}
}

// cleanValue turns a decoded header value into the one form every user of
// it gets (issue 11):
//
//   - one line: CR, LF, tabs, every other C0 or C1 control, DEL and the
//     Unicode line and paragraph separators become a space, and runs of
//     white space one space (RFC 5322 §2.2.3 unfolding, taken to its end);
//   - free of encoded-word syntax: the decoded text "=?utf-8?q?=23x?=" is
//     shown as "= ?utf-8?q?=23x? =", so no mail client that is later shown
//     the value decodes it a second time into something else (RFC 2047 §5
//     encoded words begin with exactly "=?" and end with "?=");
//   - at most max bytes of valid UTF-8, an ellipsis marking a cut.
func cleanValue(s string, max int) string {
	s = validUTF8(s)
	var b strings.Builder
	b.Grow(min(len(s), max+8))
	space := true // drops leading white space
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || unicode.IsSpace(r) {
			if space {
				continue
			}
			r, space = ' ', true
		} else {
			space = false
		}
		b.WriteRune(r)
		if b.Len() > max+8 {
			break
		}
	}
	out := strings.TrimRight(b.String(), " ")
	if strings.Contains(out, "=?") || strings.Contains(out, "?=") {
		out = strings.ReplaceAll(strings.ReplaceAll(out, "=?", "= ?"), "?=", "? =")
	}
	if len(out) > max {
		out = truncateUTF8(out, max-len("…")) + "…"
	}
	return out
}

// CleanValue is cleanValue for values the workflow composes from message
// fields, such as the subject of a new case.
func CleanValue(s string, max int) string { return cleanValue(s, max) }

func capList(l []Address) []Address {
	if len(l) > 1000 {
		l = l[:1000]
	}
	return l
}

// splitAddressList splits at commas outside quotes, comments and angle
// brackets.
func splitAddressList(v string) []string {
	var out []string
	depth, angle, quoted, start := 0, false, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == ',' && depth == 0 && !angle:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

var msgIDRe = regexp.MustCompile(`<([^<>\s]+)>`)

// parseMsgIDs extracts message ids (without angle brackets) from a
// Message-ID, In-Reply-To or References value. It accepts the common
// malformations: missing brackets, comments, phrases between ids.
func parseMsgIDs(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var ids []string
	if ms := msgIDRe.FindAllStringSubmatch(v, -1); len(ms) > 0 {
		for _, m := range ms {
			ids = append(ids, m[1])
		}
	} else {
		for _, f := range strings.Fields(v) {
			if strings.Contains(f, "@") {
				ids = append(ids, strings.Trim(f, "<>,;"))
			}
		}
		if len(ids) == 0 && !strings.ContainsAny(v, " \t") {
			ids = []string{strings.Trim(v, "<>")}
		}
	}
	kept := ids[:0]
	for _, id := range ids {
		// A Message-ID is an index key and goes back out in our
		// In-Reply-To: one line, no controls or spaces, bounded (RFC 5322
		// §3.6.4 allows no white space inside msg-id).
		if len(id) > MaxMsgIDBytes || strings.IndexFunc(id, func(r rune) bool {
			return r <= ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029'
		}) >= 0 {
			continue
		}
		kept = append(kept, validUTF8(id))
	}
	ids = kept
	if len(ids) > maxMsgIDs {
		// The newest references are the most useful for threading.
		ids = ids[len(ids)-maxMsgIDs:]
	}
	return ids
}

// singleFields are the fields RFC 5322 §3.6 allows at most once whose
// duplication lets a replayed, still DKIM-valid mail say something else
// than what was signed: a verifier checks the bottom-most instance of each
// signed field (RFC 6376 §5.4.2), a reader shows the top-most.
var singleFields = []string{"From", "Sender", "Subject", "To", "Message-Id", "In-Reply-To", "References"}

// msgIDs parses the ids of field k, noting the ones dropped as unusable.
func (p *parser) msgIDs(h message.Header, k string) []string {
	v := h.Get(k)
	ids := parseMsgIDs(v)
	if len(ids) == 0 && strings.TrimSpace(v) != "" && len(v) > MaxMsgIDBytes {
		p.problemf("%s field of %d bytes dropped: no usable message id in it", k, len(v))
	}
	return ids
}

// readHeaderFields fills the header-derived fields of the message. Every
// value is decoded once and cleaned once here (cleanValue), so the
// workflow, the templates and the outgoing headers all see the same
// single-line, bounded value.
func (p *parser) readHeaderFields(h message.Header) {
	m := p.msg
	for _, k := range singleFields {
		n := 0
		for fs := h.FieldsByKey(k); fs.Next(); {
			n++
		}
		if n > 1 {
			m.Duplicates = append(m.Duplicates, k)
			p.problemf("%d %s fields (RFC 5322 §3.6 allows one); the mail can neither command nor consent", n, k)
		}
	}
	if l := parseAddressList(h.Get("From")); len(l) > 0 {
		m.From = l[0]
	}
	if m.From.Addr == "" {
		if l := parseAddressList(h.Get("Sender")); len(l) > 0 && l[0].Addr != "" {
			if m.From.Name == "" {
				m.From.Name = l[0].Name
			}
			m.From.Addr, m.From.Guessed = l[0].Addr, l[0].Guessed
		}
	}
	if m.From.Guessed {
		p.problemf("From field does not follow RFC 5322; the sender address %q was guessed from it", truncateUTF8(m.From.Addr, 80))
	}
	m.ReplyTo = parseAddressList(h.Get("Reply-To"))
	m.To = parseAddressList(h.Get("To"))
	m.Cc = parseAddressList(h.Get("Cc"))
	m.Subject = cleanValue(decodeText(h.Get("Subject")), MaxSubjectBytes)
	if ids := p.msgIDs(h, "Message-Id"); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = p.msgIDs(h, "In-Reply-To")
	m.References = p.msgIDs(h, "References")
	if d := h.Get("Date"); d != "" {
		if t, err := mail.ParseDate(d); err == nil {
			m.Date = t
		}
	}
	fs := h.FieldsByKey("Authentication-Results")
	for fs.Next() {
		m.AuthResults = append(m.AuthResults, validUTF8(fs.Value()))
	}
	m.Exchange = exchangeHeaders(h)
}

// mediaType parses a Content-Type or Content-Disposition value. It is
// lenient: when mime.ParseMediaType rejects the parameters, they are split
// by hand, so one bad parameter does not lose the boundary.
func mediaType(v string) (string, map[string]string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", map[string]string{}
	}
	t, params, err := mime.ParseMediaType(v)
	if err == nil {
		for k, pv := range params {
			params[k] = decodeText(pv)
		}
		return t, params
	}
	params = map[string]string{}
	parts := splitParams(v)
	t = strings.TrimSpace(parts[0])
	if i := strings.IndexAny(t, " \t"); i >= 0 {
		// A missing semicolon: "multipart/mixed boundary=x".
		parts = append([]string{t[:i], t[i+1:]}, parts[1:]...)
		t = t[:i]
	}
	t = strings.ToLower(t)
	for _, s := range parts[1:] {
		k, pv, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		pv = strings.TrimSpace(pv)
		if len(pv) >= 2 && pv[0] == '"' && pv[len(pv)-1] == '"' {
			pv = pv[1 : len(pv)-1]
		} else {
			pv = strings.Trim(pv, `"`)
		}
		if k == "" {
			continue
		}
		// RFC 2231 continuations (name*0=, name*1*=) are joined in order.
		if base, _, cont := strings.Cut(k, "*"); cont {
			if enc := strings.HasSuffix(k, "*"); enc {
				if _, rest, ok := strings.Cut(pv, "''"); ok && strings.Count(pv, "'") >= 2 {
					pv = rest
				}
				if u, err := urlUnescape(pv); err == nil {
					pv = u
				}
			}
			params[base] += pv
			continue
		}
		if _, dup := params[k]; !dup {
			params[k] = decodeText(pv)
		}
	}
	return t, params
}

// splitParams splits a header value at semicolons outside quotes.
func splitParams(v string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// urlUnescape decodes %XX escapes (RFC 2231 extended values).
func urlUnescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
