package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode legacy charsets, as the parser does
)

// BenchmarkMIMEWalkCorpus is the baseline for parser.BenchmarkParseCorpus:
// over the same corpus, go-message reads each message's header and decodes
// the body of every part (transfer encoding and charset) without doing
// anything with it. Our parser does that plus HTML-to-text, quote
// stripping, extraction and classification, so this is the floor it builds
// on.
func BenchmarkMIMEWalkCorpus(b *testing.B) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		b.Fatal(err)
	}
	files, err := corpusFiles(corpusDirFor(root))
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("corpus missing in CI: %v", err)
		}
		b.Skipf("corpus not available: %v", err)
	}
	var msgs [][]byte
	var total int64
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		total += int64(len(raw))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, raw := range msgs {
			walkMIME(raw)
		}
	}
}

// walkMIME decodes every leaf part of raw; malformed input is skipped where
// go-message gives up, as a lenient reader would.
func walkMIME(raw []byte) {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil || (err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)) {
		return
	}
	_ = e.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil || part == nil {
			return nil
		}
		if t, _, _ := part.Header.ContentType(); strings.HasPrefix(t, "multipart/") {
			return nil // Walk descends into it
		}
		_, _ = io.Copy(io.Discard, part.Body)
		return nil
	})
}
