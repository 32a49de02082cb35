package main

import (
	"io"

	"disclosured/templates"
)

// visibleWriter marks the invisible characters of what it writes (bidi
// controls, zero-width characters, control characters other than tab and
// newline), so that `cases` and `show` print a sender's subject or name
// to a terminal as it is, not as it wants to look. Each Write must hold
// whole runes, as fmt.Fprintf's do.
type visibleWriter struct{ w io.Writer }

func (v visibleWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(v.w, templates.Visible(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
