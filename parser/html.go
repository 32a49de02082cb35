package parser

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTML to text.
//
// The HTML is parsed with golang.org/x/net/html, the HTML5 parsing
// algorithm browsers use, so the tree we read is the tree a mail client
// shows, however broken or hostile the markup (misnested tags, unclosed
// comments, stray quotes, "<script" inside attributes). Scripting is off
// while parsing, as in every mail client, so <noscript> content is shown.
//
// Text a reader does not see is kept apart as hidden text: staff are shown
// it marked as hidden, and it is never forwarded, never parsed for
// commands and never searched for URLs. An element is hidden when it or
// an ancestor has
//
//   - the hidden attribute, or is a <template>;
//   - style display:none, visibility:hidden or collapse, opacity:0,
//     mso-hide:all, font-size:0, or a zero height or width together with
//     overflow:hidden (the "preheader" trick);
//   - a text colour equal to its background colour (from style color,
//     background and background-color, <font color> and bgcolor), or
//     transparent; the page background is taken as white.
//
// aria-hidden is not hiding: it hides from screen readers only, and the
// text is on the screen. Scripts, styles, <head> and embedded objects are
// dropped altogether: they are not content.

// htmlToText renders HTML as readable plain text: block elements and <br>
// become line breaks, list items get a dash, whitespace outside <pre> is
// collapsed, and a link whose text does not show its target gets the
// target appended so extracted URLs are not lost. Hidden text is left out;
// see htmlRender. Nothing is fetched.
func htmlToText(src string) string {
	text, _ := htmlRender(src)
	return text
}

// htmlRender returns the visible text of src and, separately, its hidden
// text, both tidied the same way.
func htmlRender(src string) (text, hidden string) {
	doc, err := html.ParseWithOptions(strings.NewReader(src), html.ParseOptionEnableScripting(false))
	if err != nil || doc == nil {
		// Only a failing reader makes Parse fail; a strings.Reader does not.
		return "", ""
	}
	r := &htmlRenderer{}
	r.vis.Grow(len(src) / 2)
	r.walk(doc)
	return tidyLines(r.vis.String()), tidyLines(r.hid.String())
}

// htmlRenderer walks the parsed tree with an explicit stack, so a deeply
// nested hostile document cannot exhaust the goroutine stack.
type htmlRenderer struct {
	vis, hid strings.Builder
}

// htmlStyle is what an element passes down to its children.
type htmlStyle struct {
	hidden    bool   // hidden by structure or style; inherited
	unseen    bool   // hidden or drawn in the background colour
	pre       bool   // white space is kept
	color, bg string // normalised colours, "" when unknown
}

type htmlFrame struct {
	n     *html.Node
	st    htmlStyle
	close bool // the frame closes n after its children
	start int  // output length at the start of a link
}

func (r *htmlRenderer) out(st htmlStyle) *strings.Builder {
	if st.unseen {
		return &r.hid
	}
	return &r.vis
}

func (r *htmlRenderer) walk(doc *html.Node) {
	stack := []htmlFrame{{n: doc, st: htmlStyle{bg: "#ffffff", color: "#000000"}}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := f.n
		if f.close {
			r.closeElement(n, f)
			continue
		}
		st := f.st
		switch n.Type {
		case html.TextNode:
			writeHTMLText(r.out(st), n.Data, st.pre)
			continue
		case html.ElementNode:
			if dropElement(n) {
				continue
			}
			st = childStyle(n, st)
			r.openElement(n, st)
			stack = append(stack, htmlFrame{n: n, st: st, close: true, start: r.out(st).Len()})
		case html.DocumentNode:
		default:
			continue // comments, doctypes
		}
		// Children in reverse, so the first child is popped first.
		for c := n.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, htmlFrame{n: c, st: st})
		}
	}
}

// dropElement reports elements whose content is not text at all.
func dropElement(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Title, atom.Noembed, atom.Object,
		atom.Svg, atom.Math, atom.Iframe, atom.Noframes:
		return true
	}
	return n.Namespace != "" // foreign content (SVG, MathML) we do not render
}

func (r *htmlRenderer) openElement(n *html.Node, st htmlStyle) {
	b := r.out(st)
	switch n.DataAtom {
	case atom.Br:
		b.WriteByte('\n')
	case atom.Li:
		b.WriteString("\n- ")
	case atom.Pre:
		b.WriteByte('\n')
	case atom.Img:
		// An embedded (cid:) image is content the sender put in the
		// mail, so it is shown even without alt text; remote images
		// are often tracking pixels and need an alt text to appear.
		alt := strings.TrimSpace(attr(n, "alt"))
		if alt == "" && strings.HasPrefix(strings.ToLower(strings.TrimSpace(attr(n, "src"))), "cid:") {
			alt = "image"
		}
		if alt != "" {
			writeHTMLText(b, " ["+alt+"] ", false)
		}
	default:
		if isBlock(n.DataAtom) {
			b.WriteByte('\n')
		}
	}
}

func (r *htmlRenderer) closeElement(n *html.Node, f htmlFrame) {
	b := r.out(f.st)
	switch n.DataAtom {
	case atom.Td, atom.Th:
		b.WriteByte('\t')
	case atom.Pre:
		b.WriteByte('\n')
	case atom.A:
		h := strings.TrimSpace(attr(n, "href"))
		hl := strings.ToLower(h)
		if strings.HasPrefix(hl, "http://") || strings.HasPrefix(hl, "https://") || strings.HasPrefix(hl, "ftp://") {
			if f.start <= b.Len() && !strings.Contains(b.String()[f.start:], h) {
				b.WriteString(" <" + h + ">")
			}
		}
	default:
		if isBlock(n.DataAtom) {
			b.WriteByte('\n')
		}
	}
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Tr, atom.Table, atom.Ul, atom.Ol, atom.Dl, atom.Dt, atom.Dd, atom.Blockquote,
		atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Hr, atom.Section, atom.Article, atom.Header,
		atom.Footer, atom.Nav, atom.Aside, atom.Address, atom.Form, atom.Fieldset, atom.Center, atom.Figure,
		atom.Figcaption, atom.Main, atom.Caption, atom.Tbody, atom.Thead, atom.Tfoot, atom.Details, atom.Summary:
		return true
	}
	return false
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return true
		}
	}
	return false
}

// childStyle returns the style n passes to its content.
func childStyle(n *html.Node, st htmlStyle) htmlStyle {
	if n.DataAtom == atom.Pre || n.DataAtom == atom.Textarea || n.DataAtom == atom.Listing || n.DataAtom == atom.Plaintext {
		st.pre = true
	}
	if st.hidden {
		return st
	}
	if n.DataAtom == atom.Template || hasAttr(n, "hidden") ||
		n.DataAtom == atom.Input && strings.EqualFold(attr(n, "type"), "hidden") {
		st.hidden, st.unseen = true, true
		return st
	}
	if v := attr(n, "bgcolor"); v != "" {
		if c := normColor(v); c != "" {
			st.bg = c
		}
	}
	if n.DataAtom == atom.Font {
		if c := normColor(attr(n, "color")); c != "" {
			st.color = c
		}
	}
	if s := attr(n, "style"); s != "" {
		st = applyCSS(s, st)
	}
	// The colour test is made afresh on every element: white text on a
	// white cell is unseen, but black text inside it is seen again.
	st.unseen = st.hidden || st.color != "" && (st.color == st.bg || st.color == "transparent")
	return st
}

// applyCSS applies the declarations of an inline style attribute that
// decide whether text is seen. Later declarations win, as in CSS;
// "!important" is ignored (it changes nothing within one attribute).
func applyCSS(style string, st htmlStyle) htmlStyle {
	var zeroHeight, zeroWidth, overflowHidden bool
	style = stripCSSComments(style)
	for decl := range strings.SplitSeq(style, ";") {
		k, v, ok := strings.Cut(decl, ":")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "!important")))
		switch k {
		case "display":
			if v == "none" {
				st.hidden = true
			}
		case "visibility":
			if v == "hidden" || v == "collapse" {
				st.hidden = true
			}
		case "mso-hide":
			if v == "all" {
				st.hidden = true
			}
		case "opacity":
			if f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64); err == nil && f <= 0 {
				st.hidden = true
			}
		case "font-size":
			if isZeroLength(v) {
				st.hidden = true
			}
		case "height", "max-height":
			zeroHeight = zeroHeight || isZeroLength(v)
		case "width", "max-width":
			zeroWidth = zeroWidth || isZeroLength(v)
		case "overflow", "overflow-x", "overflow-y":
			overflowHidden = overflowHidden || v == "hidden" || v == "clip"
		case "color":
			if c := normColor(v); c != "" {
				st.color = c
			}
		case "background-color":
			if c := normColor(v); c != "" && c != "transparent" {
				st.bg = c
			}
		case "background":
			// The shorthand: take the first token that is a colour.
			for tok := range strings.FieldsSeq(v) {
				if c := normColor(tok); c != "" && c != "transparent" {
					st.bg = c
					break
				}
			}
		}
	}
	if (zeroHeight || zeroWidth) && overflowHidden {
		st.hidden = true
	}
	return st
}

// stripCSSComments removes /* … */ comments, which a browser ignores
// anywhere in a declaration ("display:/**/none").
func stripCSSComments(s string) string {
	for {
		i := strings.Index(s, "/*")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i+2:], "*/")
		if j < 0 {
			return s[:i]
		}
		s = s[:i] + " " + s[i+2+j+2:]
	}
}

// isZeroLength reports a CSS length of zero in any unit ("0", "0px",
// "0.0em", "0%").
func isZeroLength(v string) bool {
	v = strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyz%")
	f, err := strconv.ParseFloat(v, 64)
	return err == nil && f == 0
}

// normColor returns a colour as "#rrggbb", "transparent", or "" when it is
// not a colour we can compare.
func normColor(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if c, ok := namedColors[v]; ok {
		return c
	}
	if strings.HasPrefix(v, "#") {
		h := v[1:]
		if len(h) == 3 || len(h) == 4 {
			h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
		}
		if len(h) == 8 {
			h = h[:6] // alpha ignored
		}
		if len(h) == 6 && isHexString(h) {
			return "#" + h
		}
		return ""
	}
	for _, fn := range []string{"rgb(", "rgba("} {
		if inner, ok := strings.CutPrefix(v, fn); ok {
			inner = strings.TrimSuffix(inner, ")")
			parts := strings.FieldsFunc(inner, func(r rune) bool { return r == ',' || r == ' ' || r == '/' })
			if len(parts) < 3 {
				return ""
			}
			if len(parts) >= 4 {
				if a, err := strconv.ParseFloat(strings.TrimSuffix(parts[3], "%"), 64); err == nil && a == 0 {
					return "transparent"
				}
			}
			var b strings.Builder
			b.WriteByte('#')
			for _, p := range parts[:3] {
				x, err := strconv.ParseFloat(strings.TrimSuffix(p, "%"), 64)
				if err != nil {
					return ""
				}
				if strings.HasSuffix(p, "%") {
					x = x * 255 / 100
				}
				x = max(0, min(255, x))
				b.WriteString(hex2(int(x + 0.5)))
			}
			return b.String()
		}
	}
	return ""
}

func hex2(x int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[x>>4], digits[x&15]})
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// namedColors holds the named colours mail templates use for hiding text
// on a plain background.
var namedColors = map[string]string{
	"white": "#ffffff", "black": "#000000", "transparent": "transparent",
	"red": "#ff0000", "green": "#008000", "blue": "#0000ff", "yellow": "#ffff00",
	"gray": "#808080", "grey": "#808080", "silver": "#c0c0c0", "whitesmoke": "#f5f5f5",
	"snow": "#fffafa", "ivory": "#fffff0", "navy": "#000080", "lightgray": "#d3d3d3", "lightgrey": "#d3d3d3",
}

// writeHTMLText appends character data, collapsing whitespace unless
// inside <pre>. Entities are already decoded by the parser.
func writeHTMLText(b *strings.Builder, s string, pre bool) {
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
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	blank := true // drop leading blank lines
	for _, l := range lines {
		// Collapsing leaves at most one space at the start of a line;
		// deeper indentation comes from <pre> and is kept.
		l = strings.TrimRight(l, " \t")
		l = strings.TrimLeft(l, "\t") // from table cells
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
