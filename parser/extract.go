package parser

import (
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Indicators staff want to see at a glance in a new report (SPEC §4): the
// URLs, IP addresses and host names in subject and text. They are only
// extracted, never resolved or fetched.

var (
	urlRe  = regexp.MustCompile(`(?i)\b(?:https?|ftp)://[^\s<>"'\x60{}|\\^]+`)
	ipv4Re = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	// ipv6Re finds candidate runs; netip decides.
	ipv6Re = regexp.MustCompile(`(?i)[0-9a-f:.]*:[0-9a-f]*:[0-9a-f:.]*`)
	hostRe = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\b`)
)

// maxExtractBytes bounds the text scanned for indicators.
const maxExtractBytes = 512 << 10

// fileExts are last labels that mark a file name, not a host: none is a
// top-level domain.
var fileExts = map[string]bool{
	"pdf": true, "html": true, "htm": true, "txt": true, "png": true, "jpg": true,
	"jpeg": true, "gif": true, "exe": true, "js": true, "php": true, "asp": true,
	"aspx": true, "jsp": true, "doc": true, "docx": true, "xls": true, "xlsx": true,
	"ppt": true, "pptx": true, "csv": true, "json": true, "xml": true, "log": true,
	"rb": true, "cpp": true, "java": true, "css": true, "svg": true, "mp4": true,
	"mp3": true, "gz": true, "tar": true, "tgz": true, "rar": true, "eml": true,
	"ics": true, "dat": true, "bin": true, "conf": true, "cfg": true, "ini": true,
	"yml": true, "yaml": true, "sql": true, "bak": true, "tmp": true, "jar": true,
	"war": true, "pem": true, "key": true, "crt": true, "cer": true, "asc": true,
	"sig": true, "jsx": true, "tsx": true, "vue": true, "cgi": true, "bat": true,
	"dll": true, "apk": true, "dmg": true, "iso": true, "img": true, "wav": true,
	"webp": true, "bmp": true, "tif": true, "tiff": true, "ico": true, "rtf": true,
	"odt": true, "ods": true, "msg": true, "p7s": true, "zip": true, "mov": true,
	"avi": true, "mkv": true, "docm": true, "xlsm": true, "ps1": true, "swf": true,
	"lock": true, "toml": true, "gradle": true, "kt": true, "swift": true, "scss": true,
	"map": true, "woff": true, "ttf": true, "plist": true, "pyc": true, "class": true,
}

// twoLabelFileExts are real top-level domains that are more often file
// extensions: "exploit.sh" is a file, "poc.evil.sh" a host.
var twoLabelFileExts = map[string]bool{
	"sh": true, "py": true, "md": true, "rs": true, "cc": true, "pm": true,
	"so": true, "ps": true, "go": true, "ts": true, "cs": true,
}

// list collects unique strings in order, up to maxListItems.
type list struct {
	items []string
	seen  map[string]bool
}

func (l *list) add(s string) {
	if s == "" || len(l.items) >= maxListItems || l.seen[s] {
		return
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[s] = true
	l.items = append(l.items, s)
}

func (p *parser) extract() {
	text := p.msg.Subject + "\n" + p.msg.Text
	if len(text) > maxExtractBytes {
		text = truncateUTF8(text, maxExtractBytes)
	}
	urls, ips, hosts := extractIndicators(text)
	p.msg.URLs, p.msg.IPs, p.msg.Hosts = urls, ips, hosts
}

// extractIndicators returns the URLs, IP addresses and host names in s, in
// order of appearance.
func extractIndicators(s string) (urls, ips, hosts []string) {
	type hit struct {
		pos  int
		kind int // 0 url, 1 ip, 2 host
		val  string
	}
	var hits []hit
	for _, m := range urlRe.FindAllStringIndex(s, -1) {
		u := trimURL(s[m[0]:m[1]])
		if len(u) <= len("ftp://") {
			continue
		}
		hits = append(hits, hit{m[0], 0, u})
		if pu, err := url.Parse(u); err == nil {
			h := strings.ToLower(pu.Hostname())
			if a, err := netip.ParseAddr(h); err == nil {
				hits = append(hits, hit{m[0], 1, a.Unmap().String()})
			} else if isHostName(h) {
				hits = append(hits, hit{m[0], 2, h})
			}
		}
	}
	for _, m := range ipv4Re.FindAllStringIndex(s, -1) {
		// Not part of a longer dotted number such as a version or OID.
		if m[0] > 0 && (s[m[0]-1] == '.' || isDigit(s[m[0]-1])) {
			continue
		}
		if m[1] < len(s) && (s[m[1]] == '.' && m[1]+1 < len(s) && isDigit(s[m[1]+1]) || isDigit(s[m[1]])) {
			continue
		}
		if a, err := netip.ParseAddr(s[m[0]:m[1]]); err == nil && a.Is4() {
			hits = append(hits, hit{m[0], 1, a.String()})
		}
	}
	for _, m := range ipv6Re.FindAllStringIndex(s, -1) {
		start, end := m[0], m[1]
		for end > start && (s[end-1] == '.' || s[end-1] == ':' && !strings.HasSuffix(s[start:end], "::")) {
			end--
		}
		cand := s[start:end]
		if strings.Count(cand, ":") < 2 || cand == "::" {
			continue
		}
		// Word boundaries: "std::string" or "Foo::Bar" is no address.
		if start > 0 && isWordByte(s[start-1]) || end < len(s) && isWordByte(s[end]) && s[end] != '.' {
			continue
		}
		if a, err := netip.ParseAddr(cand); err == nil && a.Is6() {
			hits = append(hits, hit{start, 1, a.String()})
		}
	}
	for _, m := range hostRe.FindAllStringIndex(s, -1) {
		if m[0] > 0 && (s[m[0]-1] == '.' || s[m[0]-1] == '-' || s[m[0]-1] == '_') {
			continue
		}
		if m[1] < len(s) && (s[m[1]] == '-' || s[m[1]] == '_') {
			continue
		}
		h := s[m[0]:m[1]]
		last := h[strings.LastIndexByte(h, '.')+1:]
		// TLDs are written lower or upper case; "end.Then" is a sentence.
		if len(last) > 1 && last[0] >= 'A' && last[0] <= 'Z' && last[1] >= 'a' && last[1] <= 'z' {
			continue
		}
		h = strings.ToLower(h)
		if isHostName(h) {
			hits = append(hits, hit{m[0], 2, h})
		}
	}
	// Stable by position; within one position the order above (URL
	// before its host) is kept.
	slices.SortStableFunc(hits, func(a, b hit) int { return a.pos - b.pos })
	var ul, il, hl list
	for _, h := range hits {
		switch h.kind {
		case 0:
			ul.add(h.val)
		case 1:
			il.add(h.val)
		case 2:
			hl.add(h.val)
		}
	}
	return ul.items, il.items, hl.items
}

// trimURL removes trailing punctuation that belongs to the sentence, and
// closing brackets that have no opening partner inside the URL.
func trimURL(u string) string {
	open, closeP := strings.Count(u, "("), strings.Count(u, ")")
	openB, closeB := strings.Count(u, "["), strings.Count(u, "]")
	for len(u) > 0 {
		switch u[len(u)-1] {
		case '.', ',', ';', ':', '!', '?', '*', '\'', '"':
		case ')':
			if open >= closeP {
				return u
			}
			closeP--
		case ']':
			if openB >= closeB {
				return u
			}
			closeB--
		default:
			return u
		}
		u = u[:len(u)-1]
	}
	return u
}

// isHostName reports whether h (lowercase) is a plausible DNS name: at
// least two labels and an alphabetic last label that is not a file
// extension.
func isHostName(h string) bool {
	if len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	labels := strings.Split(h, ".")
	last := labels[len(labels)-1]
	if len(last) < 2 {
		return false
	}
	for i := 0; i < len(last); i++ {
		if last[i] < 'a' || last[i] > 'z' {
			return false
		}
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	if fileExts[last] {
		return false
	}
	if len(labels) == 2 && twoLabelFileExts[last] {
		return false
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWordByte(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}
