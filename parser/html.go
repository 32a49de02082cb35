package parser

import (
	"html"
	"strings"
)

// htmlToText renders HTML as readable plain text for staff. It is a small
// tokenizer, not a browser: script, style, head and similar elements are
// dropped with their content, block elements and <br> become line breaks,
// list items get a dash, entities are decoded, whitespace outside <pre> is
// collapsed, and a link whose text does not show its target gets the
// target appended so extracted URLs are not lost. Nothing is fetched.
// It runs in time linear in the input.
func htmlToText(src string) string {
	lower := asciiLower(src) // same byte offsets as src
	var b strings.Builder
	b.Grow(len(src) / 2)
	pre := 0
	var href string
	linkStart := -1
	i := 0
	for i < len(src) {
		if src[i] != '<' {
			j := strings.IndexByte(src[i:], '<')
			if j < 0 {
				j = len(src) - i
			}
			writeHTMLText(&b, src[i:i+j], pre > 0)
			i += j
			continue
		}
		rest := lower[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				i = len(src)
			} else {
				i += 4 + end + 3
			}
			continue
		case strings.HasPrefix(rest, "<![cdata["):
			end := strings.Index(rest, "]]>")
			if end < 0 {
				writeHTMLText(&b, src[i+9:], pre > 0)
				i = len(src)
			} else {
				writeHTMLText(&b, src[i+9:i+end], pre > 0)
				i += end + 3
			}
			continue
		case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				i = len(src)
			} else {
				i += end + 1
			}
			continue
		}
		j := i + 1
		closing := j < len(src) && src[j] == '/'
		if closing {
			j++
		}
		k := j
		for k < len(src) && isTagNameByte(src[k]) {
			k++
		}
		if k == j {
			// A lone "<", as in "a < b": text.
			writeHTMLText(&b, "<", pre > 0)
			i++
			continue
		}
		name := lower[j:k]
		end := tagEnd(src, k)
		attrs := src[k:end]
		if end < len(src) {
			end++ // past '>'
		}
		i = end
		if !closing {
			switch name {
			case "script", "style", "head", "title", "template", "noembed", "object", "svg", "math", "xml":
				// Skip to the matching close tag, content and all.
				c := strings.Index(lower[i:], "</"+name)
				if c < 0 {
					i = len(src)
				} else {
					i += c
					e := strings.IndexByte(lower[i:], '>')
					if e < 0 {
						i = len(src)
					} else {
						i += e + 1
					}
				}
				continue
			}
		}
		switch name {
		case "br":
			b.WriteByte('\n')
		case "p", "div", "tr", "table", "ul", "ol", "dl", "dt", "dd", "blockquote",
			"h1", "h2", "h3", "h4", "h5", "h6", "hr", "section", "article", "header",
			"footer", "nav", "aside", "address", "form", "fieldset", "center", "figure",
			"figcaption", "main", "caption", "tbody", "thead", "tfoot":
			b.WriteString("\n")
		case "pre":
			b.WriteString("\n")
			if closing {
				if pre > 0 {
					pre--
				}
			} else {
				pre++
			}
		case "li":
			if !closing {
				b.WriteString("\n- ")
			}
		case "td", "th":
			if closing {
				b.WriteByte('\t')
			}
		case "a":
			if !closing {
				href = attrValue(attrs, "href")
				linkStart = b.Len()
			} else if href != "" && linkStart >= 0 && linkStart <= b.Len() {
				h := strings.TrimSpace(href)
				hl := asciiLower(h)
				if strings.HasPrefix(hl, "http://") || strings.HasPrefix(hl, "https://") || strings.HasPrefix(hl, "ftp://") {
					if !strings.Contains(b.String()[linkStart:], h) {
						b.WriteString(" <" + h + ">")
					}
				}
				href, linkStart = "", -1
			}
		case "img":
			// An embedded (cid:) image is content the sender put in the
			// mail, so it is shown even without alt text; remote images
			// are often tracking pixels and need an alt text to appear.
			alt := strings.TrimSpace(attrValue(attrs, "alt"))
			if alt == "" && strings.HasPrefix(asciiLower(strings.TrimSpace(attrValue(attrs, "src"))), "cid:") {
				alt = "image"
			}
			if alt != "" {
				writeHTMLText(&b, " ["+alt+"] ", false)
			}
		}
	}
	return tidyLines(b.String())
}

func isTagNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == ':'
}

// tagEnd returns the index of the '>' that ends the tag whose attributes
// start at k, honouring quoted attribute values, or len(s).
func tagEnd(s string, k int) int {
	for ; k < len(s); k++ {
		switch c := s[k]; c {
		case '"', '\'':
			// Only a quote that starts an attribute value counts; a
			// stray quote elsewhere must not swallow the document.
			if s[k-1] == '=' || k > 1 && s[k-1] == ' ' && s[k-2] == '=' {
				if e := strings.IndexByte(s[k+1:], c); e >= 0 {
					k += e + 1
				}
			}
		case '>':
			return k
		}
	}
	return len(s)
}

// attrValue returns the decoded value of attribute name in a tag's
// attribute text.
func attrValue(attrs, name string) string {
	l := asciiLower(attrs)
	for off := 0; ; {
		i := strings.Index(l[off:], name)
		if i < 0 {
			return ""
		}
		i += off
		off = i + len(name)
		if i > 0 && isTagNameByte(l[i-1]) {
			continue
		}
		j := i + len(name)
		for j < len(attrs) && (attrs[j] == ' ' || attrs[j] == '\t' || attrs[j] == '\n' || attrs[j] == '\r') {
			j++
		}
		if j >= len(attrs) || attrs[j] != '=' {
			continue
		}
		j++
		for j < len(attrs) && (attrs[j] == ' ' || attrs[j] == '\t' || attrs[j] == '\n' || attrs[j] == '\r') {
			j++
		}
		if j >= len(attrs) {
			return ""
		}
		var v string
		if q := attrs[j]; q == '"' || q == '\'' {
			e := strings.IndexByte(attrs[j+1:], q)
			if e < 0 {
				v = attrs[j+1:]
			} else {
				v = attrs[j+1 : j+1+e]
			}
		} else {
			e := strings.IndexAny(attrs[j:], " \t\r\n>")
			if e < 0 {
				v = attrs[j:]
			} else {
				v = attrs[j : j+e]
			}
		}
		return html.UnescapeString(v)
	}
}

// writeHTMLText appends decoded character data, collapsing whitespace
// unless inside <pre>.
func writeHTMLText(b *strings.Builder, s string, pre bool) {
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
	}
	s = strings.ReplaceAll(s, "\u00a0", " ")
	if pre {
		b.WriteString(s)
		return
	}
	space := false
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r', '\f':
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
}

// tidyLines trims each line and collapses runs of blank lines to one.
func tidyLines(s string) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	blank := true // drop leading blank lines
	for _, l := range lines {
		// Collapsing leaves at most one space at the start of a line;
		// deeper indentation comes from <pre> and is kept.
		l = strings.TrimRight(l, " \t")
		if len(l) > 1 && l[0] == ' ' && l[1] != ' ' {
			l = l[1:]
		}
		if strings.TrimSpace(l) == "" {
			if !blank {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// asciiLower lowercases ASCII letters only, so byte offsets are kept.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
