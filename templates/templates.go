// Package templates renders the mail disclosured sends. Defaults for every
// mail in English and Dutch are embedded in the binary; an operator can
// override any of them by placing a file of the same name under
// templates.dir (DIR/<lang>/<name>.tmpl).
//
// A template is Go text/template source whose output starts with a
// "Subject: " line, then an empty line, then the plain-text body. Subjects
// of mail to staff must keep the fixed English prefix (SPEC §4) in every
// language, because staff filter on it.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
)

//go:embed default
var defaults embed.FS

// Languages are the languages shipped with the binary.
var Languages = []string{"en", "nl"}

// Names are the templates every language must provide.
var Names = []string{"ack", "new-report", "reporter-replied", "owner-replied", "flood", "mail-failed",
	"done", "refused", "unauthenticated",
	"assessment", "progress", "info", "reply", "resolved", "rejected", "duplicate", "reward", "status",
	"thirdparty-owner", "thirdparty-reporter", "reminder", "overdue", "status-update",
	"overview", "show", "publish-reminder", "publish-today", "published", "report"}

// Set is a parsed, immutable collection of templates.
type Set struct {
	t map[string]*template.Template // key "lang/name"
}

// Load parses the embedded templates and, when dir is not empty, the
// overrides in dir. Every template is test-rendered with sample data so a
// broken override is reported at load time, not when a report arrives.
func Load(dir string) (*Set, error) {
	s := &Set{t: map[string]*template.Template{}}
	var errs []error
	for _, lang := range Languages {
		for _, name := range Names {
			src, origin, err := source(dir, lang, name)
			if errors.Is(err, fs.ErrNotExist) && lang != "en" {
				continue // Render falls back to English
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			t, err := template.New(name).Option("missingkey=error").Parse(src)
			if err != nil {
				errs = append(errs, fmt.Errorf("template %s: %w", origin, err))
				continue
			}
			s.t[lang+"/"+name] = t
			if _, _, err := s.Render(name, lang, Sample()); err != nil {
				errs = append(errs, fmt.Errorf("template %s: %w", origin, err))
			}
		}
	}
	if dir != "" {
		errs = append(errs, unknownOverrides(dir)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func source(dir, lang, name string) (src, origin string, err error) {
	file := name + ".tmpl"
	if dir != "" {
		p := filepath.Join(dir, lang, file)
		b, err := os.ReadFile(p)
		if err == nil {
			return string(b), p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", p, fmt.Errorf("read template override: %w", err)
		}
	}
	p := path.Join("default", lang, file)
	b, err := defaults.ReadFile(p)
	if err != nil {
		return "", p, fmt.Errorf("read embedded template %s: %w", p, err)
	}
	return string(b), "embedded " + lang + "/" + file, nil
}

// unknownOverrides reports files in dir that override nothing, so a typo in
// a file name does not silently leave the default in place.
func unknownOverrides(dir string) []error {
	known := map[string]bool{}
	for _, lang := range Languages {
		for _, name := range Names {
			known[filepath.Join(lang, name+".tmpl")] = true
		}
	}
	var errs []error
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if !known[rel] {
			errs = append(errs, fmt.Errorf("template override %s: unknown template (want <lang>/<name>.tmpl with lang in %v and name in %v)", p, Languages, Names))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("read templates.dir: %w", err))
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// Render executes template name in lang (falling back to English) and
// returns the subject and the body.
func (s *Set) Render(name, lang string, data any) (subject, body string, err error) {
	t, ok := s.t[lang+"/"+name]
	if !ok {
		t, ok = s.t["en/"+name]
	}
	if !ok {
		return "", "", fmt.Errorf("render %s: no such template", name)
	}
	// What a sender wrote reaches every mail through Data; make its
	// invisible characters visible first (see Visible).
	switch d := data.(type) {
	case Data:
		visibleData(&d)
		data = d
	case *Data:
		c := *d
		visibleData(&c)
		data = c
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", "", fmt.Errorf("render %s/%s: %w", lang, name, err)
	}
	head, body, ok := strings.Cut(buf.String(), "\n\n")
	if !ok || !strings.HasPrefix(head, "Subject: ") || strings.Contains(head, "\n") {
		return "", "", fmt.Errorf("render %s/%s: output must start with one \"Subject: \" line and an empty line", lang, name)
	}
	return strings.TrimSpace(strings.TrimPrefix(head, "Subject: ")), strings.TrimLeft(body, "\n"), nil
}
