package parser

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
)

// parser holds the state of one Parse call.
type parser struct {
	lim Limits
	msg *Message
	hdr message.Header // top-level header

	parts     int  // MIME entities visited
	stopped   bool // MaxParts reached: walk no further
	deepNoted bool

	// Structure seen during the walk, for classification (SPEC §4).
	reportTypes []string        // report-type of each multipart/report
	types       map[string]bool // every media type seen

	// Fallbacks for mail whose text lives somewhere unusual.
	textAttachment string // first text/plain attachment
	embedded       []byte // first message/rfc822 part, decoded
}

// collector gathers the text parts under one entity.
type collector struct {
	plain, html []string
}

func (p *parser) parse(raw []byte) {
	p.types = map[string]bool{}
	b := p.normalise(raw)
	h, body, ok := p.splitHeader(b, "message")
	if !ok {
		// RFC 5322 requires at least Date and From; text without any
		// header is still shown to staff rather than dropped.
		p.problemf("no header block; the whole message is treated as text")
		h, body = message.Header{}, b
	}
	p.hdr = h
	p.readHeaderFields(h)

	col := &collector{}
	p.walk(h, body, 0, col)
	p.finishText(col)

	p.extract()
	p.msg.Class, p.msg.ClassReason = p.classify()
	p.msg.Language = detectLanguage(p.msg.Subject, p.msg.Text)
}

// walk visits one MIME entity and, for multiparts, its children.
func (p *parser) walk(h message.Header, body []byte, depth int, col *collector) {
	if p.stopped {
		return
	}
	if depth > p.lim.MaxDepth {
		if !p.deepNoted {
			p.deepNoted = true
			p.problemf("MIME nesting deeper than %d levels; deeper parts ignored", p.lim.MaxDepth)
		}
		return
	}
	p.parts++
	if p.parts > p.lim.MaxParts {
		p.stopped = true
		p.problemf("more than %d MIME parts; the rest is ignored", p.lim.MaxParts)
		return
	}
	mt, params := mediaType(h.Get("Content-Type"))
	if mt == "" {
		mt = "text/plain" // RFC 2045 §5.2
	}
	if !strings.Contains(mt, "/") {
		p.problemf("invalid content type %q", mt)
		mt = "application/octet-stream"
	}
	p.types[mt] = true
	if strings.HasPrefix(mt, "multipart/") {
		p.walkMultipart(h, body, mt, params, depth, col)
		return
	}
	p.leaf(h, body, mt, params, col)
}

func (p *parser) walkMultipart(h message.Header, body []byte, mt string, params map[string]string, depth int, col *collector) {
	if mt == "multipart/report" {
		p.reportTypes = append(p.reportTypes, strings.ToLower(strings.TrimSpace(params["report-type"])))
	}
	boundary := params["boundary"]
	if boundary == "" {
		boundary = guessBoundary(body)
		p.problemf("%s without a boundary parameter", mt)
	}
	var parts [][]byte
	closed := false
	if boundary != "" {
		parts, closed = splitMultipart(body, boundary, p.lim.MaxParts+1)
	}
	if len(parts) == 0 {
		if len(bytes.TrimSpace(body)) > 0 {
			p.problemf("%s has no parts; body treated as text", mt)
			p.leaf(h, body, "text/plain", map[string]string{}, col)
		}
		return
	}
	if !closed {
		p.problemf("%s: missing closing boundary", mt)
	}
	if mt != "multipart/alternative" {
		for _, part := range parts {
			ph, pbody, ok := p.splitHeader(part, "part")
			if !ok {
				p.problemf("MIME part without header")
			}
			p.walk(ph, pbody, depth+1, col)
		}
		return
	}
	// RFC 2046 §5.1.4: alternatives are in increasing order of
	// preference, but staff read plain text, so the first non-empty
	// text/plain wins; failing that, the last non-empty HTML.
	var plain, html []string
	for _, part := range parts {
		ph, pbody, _ := p.splitHeader(part, "part")
		sub := &collector{}
		p.walk(ph, pbody, depth+1, sub)
		if plain == nil && strings.TrimSpace(strings.Join(sub.plain, "")) != "" {
			plain = sub.plain
		}
		if strings.TrimSpace(strings.Join(sub.html, "")) != "" {
			html = sub.html
		}
	}
	if plain != nil {
		col.plain = append(col.plain, plain...)
	} else {
		col.html = append(col.html, html...)
	}
}

// guessBoundary returns the boundary of a multipart body whose header does
// not declare one: the first line that looks like a delimiter.
func guessBoundary(body []byte) string {
	rest := body
	for i := 0; i < 200 && len(rest) > 0; i++ {
		var line []byte
		line, rest = cutLine(rest)
		line = bytes.TrimRight(line, " \t")
		if len(line) > 2 && len(line) < 200 && bytes.HasPrefix(line, []byte("--")) {
			return string(bytes.TrimSuffix(line[2:], []byte("--")))
		}
	}
	return ""
}

// splitMultipart splits a multipart body at its delimiter lines (RFC 2046
// §5.1.1). The line break before a delimiter belongs to the delimiter. A
// line that merely starts with the delimiter (a longer, clashing boundary)
// is not one. Without a closing delimiter the last part runs to the end.
func splitMultipart(body []byte, boundary string, max int) (parts [][]byte, closed bool) {
	delim := []byte("--" + boundary)
	nlDelim := append([]byte("\n"), delim...)
	partStart := -1
	pos := 0
	for pos <= len(body) && len(parts) < max {
		var idx int
		if pos == 0 && bytes.HasPrefix(body, delim) {
			idx = 0
		} else {
			j := bytes.Index(body[pos:], nlDelim)
			if j < 0 {
				break
			}
			idx = pos + j + 1
		}
		lineEnd := bytes.IndexByte(body[idx:], '\n')
		next := len(body)
		if lineEnd < 0 {
			lineEnd = len(body)
		} else {
			lineEnd += idx
			next = lineEnd + 1
		}
		rest := bytes.TrimSuffix(body[idx+len(delim):lineEnd], []byte("\r"))
		final := bytes.HasPrefix(rest, []byte("--"))
		if final {
			rest = rest[2:]
		}
		if len(bytes.Trim(rest, " \t")) != 0 {
			pos = idx + 1
			continue
		}
		if partStart >= 0 {
			e := idx
			if e > partStart && body[e-1] == '\n' {
				e--
				if e > partStart && body[e-1] == '\r' {
					e--
				}
			}
			parts = append(parts, body[partStart:e])
		}
		if final {
			return parts, true
		}
		partStart = next
		pos = next
	}
	if partStart >= 0 && partStart <= len(body) && len(parts) < max {
		parts = append(parts, body[partStart:])
	}
	return parts, false
}

// leaf handles a non-multipart entity: body text or attachment.
func (p *parser) leaf(h message.Header, body []byte, mt string, params map[string]string, col *collector) {
	disp, dparams := mediaType(h.Get("Content-Disposition"))
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	if cte == "base64" && !strings.HasPrefix(mt, "text/") && !strings.HasPrefix(mt, "message/") {
		// A binary attachment: only its size and hash are kept, so hash
		// it while decoding instead of holding a decoded copy.
		sum := sha256.New()
		n, bad := decodeBase64To(body, func(b []byte) { sum.Write(b) })
		if bad {
			p.problemf("invalid base64 data; decoded what could be")
		}
		p.msg.Attachments = append(p.msg.Attachments, Attachment{Filename: cleanFilename(filename),
			ContentType: mt, Size: n, SHA256: hex.EncodeToString(sum.Sum(nil))})
		return
	}
	data := p.decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	isText := mt == "text/plain" || mt == "text/html"
	if isText && disp != "attachment" && filename == "" {
		s := p.decodeCharset(data, params["charset"])
		if mt == "text/html" {
			col.html = append(col.html, s)
			return
		}
		if strings.EqualFold(params["format"], "flowed") {
			s = unflow(s, strings.EqualFold(params["delsp"], "yes"))
		}
		col.plain = append(col.plain, s)
		return
	}
	sum := sha256.Sum256(data)
	name := cleanFilename(filename)
	if name == "" && (mt == "message/rfc822" || mt == "message/global") {
		if eh, _, ok := p.quietHeader(data); ok {
			name = cleanFilename(decodeText(eh.Get("Subject")))
			if name != "" {
				name += ".eml"
			}
		}
	}
	p.msg.Attachments = append(p.msg.Attachments, Attachment{
		Filename:    name,
		ContentType: mt,
		Size:        int64(len(data)),
		SHA256:      hex.EncodeToString(sum[:]),
	})
	switch {
	case mt == "text/plain" && p.textAttachment == "":
		p.textAttachment = p.decodeCharset(data, params["charset"])
	case (mt == "message/rfc822" || mt == "message/global") && p.embedded == nil:
		p.embedded = data
	}
}

// quietHeader parses a header without recording problems.
func (p *parser) quietHeader(b []byte) (message.Header, []byte, bool) {
	saved := p.msg.Problems
	h, body, ok := p.splitHeader(b, "embedded")
	p.msg.Problems = saved
	return h, body, ok
}

// finishText picks Message.Text: plain text, else HTML as text, else a
// text attachment, else the text of a forwarded message.
func (p *parser) finishText(col *collector) {
	m := p.msg
	text := joinText(col.plain)
	if text == "" {
		if html := joinText(col.html); html != "" {
			text, m.HiddenText = htmlRender(html)
			m.HTMLOnly = text != ""
		}
	}
	if text == "" && strings.TrimSpace(p.textAttachment) != "" {
		text = p.textAttachment
	}
	if text == "" && p.embedded != nil && !p.stopped {
		// A forward as message/rfc822 with no text of its own: show the
		// forwarded text, but not its attachments, as this message's.
		natt := len(m.Attachments)
		h, body, _ := p.splitHeader(p.embedded, "forwarded message")
		sub := &collector{}
		p.walk(h, body, 1, sub)
		m.Attachments = m.Attachments[:natt]
		text = joinText(sub.plain)
		if text == "" {
			if html := joinText(sub.html); html != "" {
				text, m.HiddenText = htmlRender(html)
				m.HTMLOnly = text != ""
			}
		}
	}
	text = cleanText(text)
	if len(text) > MaxTextBytes {
		p.problemf("text longer than %d bytes; truncated", MaxTextBytes)
		text = truncateUTF8(text, MaxTextBytes)
	}
	if strings.TrimSpace(text) == "" {
		text = ""
		p.problemf("no readable text")
	}
	m.Text = text
	if len(m.HiddenText) > MaxTextBytes {
		m.HiddenText = truncateUTF8(m.HiddenText, MaxTextBytes)
	}
}

func joinText(parts []string) string {
	var nonEmpty []string
	for _, s := range parts {
		if strings.TrimSpace(s) != "" {
			nonEmpty = append(nonEmpty, s)
		}
	}
	return strings.Join(nonEmpty, "\n\n")
}

// cleanText normalises line endings to LF, removes control characters
// other than tab and newline, and trims surrounding blank space.
func cleanText(s string) string {
	s = validUTF8(s)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case r == '\t' || r == '\n':
			return r
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
	return strings.Trim(s, " \t\n")
}

// decodeTransfer undoes the Content-Transfer-Encoding (RFC 2045 §6)
// leniently: invalid base64 and quoted-printable are decoded as far as
// possible, an unknown encoding keeps the raw bytes.
func (p *parser) decodeTransfer(cte string, body []byte) []byte {
	cte = strings.ToLower(strings.TrimSpace(cte))
	if i := strings.IndexAny(cte, " \t;("); i >= 0 {
		cte = cte[:i]
	}
	switch cte {
	case "", "7bit", "8bit", "binary":
		return body
	case "quoted-printable":
		// An "=" that starts no valid escape is kept as it is, as RFC
		// 2045 §6.7 suggests; mail declared quoted-printable but sent
		// unencoded is too common to report.
		out, _ := decodeQP(body)
		return out
	case "base64":
		out, bad := decodeBase64(body)
		if bad {
			p.problemf("invalid base64 data; decoded what could be")
		}
		return out
	default:
		p.problemf("unknown transfer encoding %q; raw body kept", truncateUTF8(cte, 40))
		return body
	}
}

// decodeQP decodes quoted-printable (RFC 2045 §6.7), keeping an "=" that
// does not start a valid escape.
func decodeQP(b []byte) (out []byte, bad bool) {
	out = make([]byte, 0, len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line, eol []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, eol, b = b[:i], b[i:i+1], b[i+1:]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line, eol = line[:len(line)-1], []byte("\r\n")
			}
		}
		line = bytes.TrimRight(line, " \t")
		soft := false
		for j := 0; j < len(line); j++ {
			c := line[j]
			if c != '=' {
				out = append(out, c)
				continue
			}
			if j == len(line)-1 {
				soft = true
				break
			}
			if j+2 < len(line) && isHex(line[j+1]) && isHex(line[j+2]) {
				out = append(out, unhex(line[j+1])<<4|unhex(line[j+2]))
				j += 2
				continue
			}
			bad = true
			out = append(out, c)
		}
		if !soft {
			out = append(out, eol...)
		}
	}
	return out, bad
}

// decodeBase64 decodes base64 ignoring characters outside the alphabet,
// padding in the middle (concatenated encodings) and a dangling final
// character.
func decodeBase64(b []byte) (out []byte, bad bool) {
	out = make([]byte, 0, len(b)*3/4)
	_, bad = decodeBase64To(b, func(p []byte) { out = append(out, p...) })
	return out, bad
}

// decodeBase64To decodes like decodeBase64 but hands the decoded bytes to
// emit a small chunk at a time, so a large attachment can be hashed
// without holding a decoded copy.
func decodeBase64To(b []byte, emit func([]byte)) (n int64, bad bool) {
	chunk := make([]byte, 0, 1024)
	dec := make([]byte, base64.RawStdEncoding.DecodedLen(cap(chunk)))
	flush := func() {
		if len(chunk)%4 == 1 {
			bad = true
			chunk = chunk[:len(chunk)-1]
		}
		m, err := base64.RawStdEncoding.Decode(dec, chunk)
		if err != nil {
			bad = true
		}
		emit(dec[:m])
		n += int64(m)
		chunk = chunk[:0]
	}
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			chunk = append(chunk, c)
			if len(chunk) == cap(chunk) {
				flush()
			}
		case c == '=':
			if len(chunk) > 0 {
				flush()
			}
		case c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			bad = true
		}
	}
	flush()
	return n, bad
}

// decodeCharset converts text in the declared charset to UTF-8. Text
// without a charset (or declared us-ascii) that is not valid UTF-8 is read
// as windows-1252, the usual culprit. An unknown charset keeps the raw
// bytes with invalid sequences replaced.
func (p *parser) decodeCharset(data []byte, cs string) string {
	cs = strings.ToLower(strings.Trim(strings.TrimSpace(cs), `"'`))
	switch cs {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "unicode-1-1-utf-8":
		if utf8.Valid(data) {
			return string(data)
		}
		if cs == "utf-8" || cs == "utf8" {
			return strings.ToValidUTF8(string(data), "\uFFFD")
		}
		cs = "windows-1252"
	}
	r, err := charset.Reader(cs, bytes.NewReader(data))
	if err != nil {
		p.problemf("unknown charset %q; raw text kept", truncateUTF8(cs, 40))
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	out, err := io.ReadAll(r)
	if err != nil {
		p.problemf("charset %q: %v", truncateUTF8(cs, 40), err)
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// unflow joins format=flowed lines (RFC 3676 §4.2): a line ending in a
// space continues on the next line of the same quote depth.
func unflow(s string, delsp bool) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var b strings.Builder
	b.Grow(len(s))
	prevFlowed, prevDepth := false, -1
	for i, line := range lines {
		depth := 0
		for depth < len(line) && line[depth] == '>' {
			depth++
		}
		content := line[depth:]
		content = strings.TrimPrefix(content, " ") // space-stuffing, §4.4
		flowed := strings.HasSuffix(content, " ") && content != "-- "
		if flowed && delsp {
			content = content[:len(content)-1]
		}
		if prevFlowed && depth == prevDepth {
			b.WriteString(content)
		} else {
			if i > 0 {
				b.WriteByte('\n')
			}
			if depth > 0 {
				b.WriteString(strings.Repeat(">", depth))
				b.WriteByte(' ')
			}
			b.WriteString(content)
		}
		prevFlowed, prevDepth = flowed, depth
	}
	return b.String()
}

// cleanFilename makes an attachment name safe to display: only the last
// path element, no control or format (bidi override) characters, at most
// 255 bytes. The result is never meant to be used as a path.
func cleanFilename(s string) string {
	s = decodeText(s)
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "." || s == ".." {
		return ""
	}
	return truncateUTF8(s, 255)
}
