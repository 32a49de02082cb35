package pgp

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// node is one MIME entity, with its raw bytes kept so that an unchanged
// entity is written back exactly as it came.
type node struct {
	raw    []byte // the entity as read: header and body
	header textproto.Header
	body   []byte // raw body, still transfer-encoded
	// mediaType and params come from Content-Type (text/plain when absent,
	// RFC 2045 §5.2).
	mediaType string
	params    map[string]string
	parts     []*node // for multipart/*
	changed   bool    // write from header/body/parts, not raw
	badHeader bool    // the header did not parse; the entity is opaque
}

// splitHeader returns the length of the header block of b, including the
// blank line that ends it (len(b) when there is none).
func splitHeader(b []byte) int {
	off := 0
	for off < len(b) {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return len(b)
		}
		line := b[off : off+i]
		off += i + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return off
		}
	}
	return len(b)
}

// parseNode reads raw as one entity, walking multiparts to MaxDepth and
// counting parts in *count.
func parseNode(raw []byte, depth int, count *int) *node {
	*count++
	n := &node{raw: raw, mediaType: "text/plain"}
	hl := splitHeader(raw)
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw[:hl])))
	if err != nil {
		n.badHeader = true
		n.mediaType = "application/octet-stream"
		return n
	}
	n.header, n.body = h, raw[hl:]
	if ct := h.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			n.mediaType = "application/octet-stream"
			return n
		}
		n.mediaType, n.params = strings.ToLower(mt), params
	}
	if strings.HasPrefix(n.mediaType, "multipart/") && n.params["boundary"] != "" && depth < MaxDepth {
		for _, p := range splitMultipart(n.body, n.params["boundary"]) {
			if *count >= MaxParts {
				break
			}
			n.parts = append(n.parts, parseNode(p, depth+1, count))
		}
	}
	return n
}

// splitMultipart returns the raw bytes of each body part of a multipart
// body (RFC 2046 §5.1.1): the text between a delimiter line and the line
// break before the next one. Preamble and epilogue are dropped. A body
// without a closing delimiter ends at its end.
func splitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var out [][]byte
	start := -1 // start of the current part
	off := 0
	for off <= len(body) {
		end := bytes.IndexByte(body[off:], '\n')
		lineEnd := len(body)
		next := len(body) + 1
		if end >= 0 {
			lineEnd, next = off+end, off+end+1
		}
		line := bytes.TrimRight(body[off:lineEnd], " \t\r")
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			closing := bytes.Equal(rest, []byte("--"))
			if len(rest) == 0 || closing {
				if start >= 0 {
					pe := off
					// the line break before the delimiter belongs to it
					if pe > start && body[pe-1] == '\n' {
						pe--
						if pe > start && body[pe-1] == '\r' {
							pe--
						}
					}
					out = append(out, body[start:pe])
				}
				if closing {
					return out
				}
				start = next
				if start > len(body) {
					start = len(body)
				}
			}
		}
		off = next
	}
	if start >= 0 && start < len(body) {
		out = append(out, body[start:])
	}
	return out
}

// write serializes n: its raw bytes when unchanged, else its header and
// body or parts.
func (n *node) write(w *bytes.Buffer) {
	if !n.changed {
		w.Write(n.raw)
		return
	}
	_ = textproto.WriteHeader(w, n.header)
	if n.parts == nil {
		w.Write(n.body)
		return
	}
	b := n.params["boundary"]
	for _, p := range n.parts {
		w.WriteString("--" + b + "\r\n")
		p.write(w)
		w.WriteString("\r\n")
	}
	w.WriteString("--" + b + "--\r\n")
}

// bytes is n serialized.
func (n *node) bytes() []byte {
	var b bytes.Buffer
	n.write(&b)
	return b.Bytes()
}

// decoded returns n's body with the transfer encoding undone (RFC 2045
// §6), at most limit bytes.
func (n *node) decoded(limit int64) ([]byte, error) {
	var r io.Reader = bytes.NewReader(n.body)
	switch strings.ToLower(strings.TrimSpace(n.header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &base64Cleaner{r: r})
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, fmt.Errorf("decode part: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

// base64Cleaner drops the bytes outside the base64 alphabet that mail
// adds (line breaks, blanks), as RFC 2045 §6.8 says a decoder must.
type base64Cleaner struct{ r io.Reader }

func (c *base64Cleaner) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		j := 0
		for _, b := range p[:n] {
			if b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// filename is n's file name from Content-Disposition or Content-Type.
func (n *node) filename() string {
	if n.badHeader {
		return ""
	}
	if cd := n.header.Get("Content-Disposition"); cd != "" {
		if _, p, err := mime.ParseMediaType(cd); err == nil && p["filename"] != "" {
			return p["filename"]
		}
	}
	return n.params["name"]
}

// textNode makes a text/plain UTF-8 part holding text, quoted-printable,
// so that it is 7-bit clean (RFC 3156 §3).
func textNode(text string, extra textproto.Header) *node {
	var h textproto.Header
	copyNonContent(&h, extra)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	return &node{header: h, body: qp([]byte(text)), mediaType: "text/plain",
		params: map[string]string{"charset": "utf-8"}, changed: true}
}

// fileNode makes an attachment part holding data, base64.
func fileNode(name string, data []byte) *node {
	var h textproto.Header
	h.Set("Content-Type", mime.FormatMediaType("application/octet-stream", map[string]string{"name": name}))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Content-Transfer-Encoding", "base64")
	return &node{header: h, body: b64(data), mediaType: "application/octet-stream",
		params: map[string]string{"name": name}, changed: true}
}

// copyNonContent copies the fields of src that are not Content-* into dst.
func copyNonContent(dst *textproto.Header, src textproto.Header) {
	fs := src.Fields()
	for fs.Next() {
		if !strings.HasPrefix(strings.ToLower(fs.Key()), "content-") {
			dst.Add(fs.Key(), fs.Value())
		}
	}
}

// qp quoted-printable-encodes b with CRLF line breaks.
func qp(b []byte) []byte {
	var buf bytes.Buffer
	w := quotedprintable.NewWriter(&buf)
	_, _ = w.Write(bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")))
	_ = w.Close()
	return buf.Bytes()
}

// b64 base64-encodes b in lines of 76 characters.
func b64(b []byte) []byte {
	s := base64.StdEncoding.EncodeToString(b)
	var buf bytes.Buffer
	for len(s) > 76 {
		buf.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	buf.WriteString(s + "\r\n")
	return buf.Bytes()
}

// crlf turns every line break of b into CRLF (RFC 3156 §5: the signed
// data is hashed in canonical form).
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}
