package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"disclosured/advisory"
)

// advisoryCmd prints a case's advisory draft: the text staff get on the
// publication day, or with --csaf the CSAF 2.0 document attached to it.
func advisoryCmd(_ context.Context, args []string, s *session, e env) error {
	fs, _ := newFlags("advisory", e)
	asCSAF := fs.Bool("csaf", false, "print the CSAF 2.0 JSON document")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"usage: disclosured advisory ID [--csaf]"}
	}
	if err := s.ready(); err != nil {
		return err
	}
	d, err := s.engine.Advisory(strings.ToUpper(fs.Arg(0)), time.Now())
	if err != nil {
		return err
	}
	if !*asCSAF {
		_, err := io.WriteString(e.stdout, advisory.Text(d))
		return err
	}
	b, err := advisory.CSAFJSON(d)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(b)
	return err
}

// reportTarget sends a report's output to the --png FILE instead of the
// terminal: a temporary file beside FILE, renamed on success, so the chart
// reaches the caller's file system also when the daemon draws it. Without
// --png the output stays on stdout.
func reportTarget(args []string, e env) (io.Writer, func(ok bool) error, error) {
	fs, _ := newFlags("report", e)
	fs.String("from", "", "")
	fs.String("to", "", "")
	fs.Bool("json", false, "")
	png := fs.String("png", "", "")
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	if *png == "" {
		return e.stdout, nil, nil
	}
	dst := *png
	f, err := os.CreateTemp(filepath.Dir(dst), ".report-*.png")
	if err != nil {
		return nil, nil, fmt.Errorf("report --png: %w", err)
	}
	finish := func(ok bool) error {
		err := f.Close()
		if ok && err == nil {
			if err = os.Rename(f.Name(), dst); err == nil {
				fmt.Fprintln(e.stderr, "chart written to", dst)
				return nil
			}
		}
		os.Remove(f.Name())
		if ok {
			return fmt.Errorf("report --png %s: %w", dst, err)
		}
		return nil
	}
	return f, finish, nil
}
