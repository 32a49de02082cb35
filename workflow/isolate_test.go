package workflow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"disclosured/mailbox"
	"disclosured/store"
	"disclosured/templates"
)

// TestHostileHeadersDoNotStopIntake is issue 11 attack 1: a subject whose
// encoded word decodes to a newline, and a From with a ~36 KB quoted local
// part, made the whole batch fail for good. Now each is a case, and the
// innocent report behind them is acknowledged.
func TestHostileHeadersDoNotStopIntake(t *testing.T) {
	f := newFixture(t)
	long := "\"" + strings.Repeat("a", 36<<10) + "\"@evil.example"
	msgs := []Incoming{
		{Raw: report("eve@evil.example", "=?utf-8?q?line1=0Aline2?=", "n1@evil.example", ""), ReceivedAt: f.now},
		{Raw: []byte("From: " + long + "\r\nTo: security@example.test\r\nSubject: long sender\r\nMessage-ID: <n2@evil.example>\r\n\r\nbody\r\n"), ReceivedAt: f.now},
		{Raw: report("ada@example.org", "XSS in login", "r1@example.org", ""), ReceivedAt: f.now},
	}
	out, err := f.e.Ingest(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("%d outcomes, want 3", len(out))
	}
	for i, o := range out {
		if !o.New || o.Failed {
			t.Errorf("message %d: %+v, want a new case processed normally", i, o)
		}
	}
	if v := f.show(t, out[0].CaseID); v.Subject != "line1 line2" {
		t.Errorf("subject %q, want one line", v.Subject)
	}
	f.flush(t)
	var acks []string
	for _, s := range subjects(f.sink.messages()) {
		if strings.Contains(s, "Received:") {
			acks = append(acks, strings.Fields(s)[0])
		}
	}
	if strings.Join(acks, ",") != "eve@evil.example,ada@example.org" {
		t.Errorf("acknowledgments to %v; want eve and ada, none to the unusable address", acks)
	}
	v := f.show(t, out[1].CaseID)
	if v.State != StateNew || !hasEvent(v, "no_reply", "cannot be used") {
		t.Errorf("the 36 KB sender's case: state %s, events %+v", v.State, v.Events)
	}
}

func hasEvent(v *CaseView, typ, detail string) bool {
	for _, ev := range v.Events {
		if ev.Type == typ && strings.Contains(ev.Detail, detail) {
			return true
		}
	}
	return false
}

// poisonTemplates is the default set with an ack override that fails to
// render for one subject: processing a message can fail in ways no parser
// fix prevents (an operator's template, a store limit, a bug).
func poisonTemplates(t *testing.T) *templates.Set {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "Subject: [{{.CaseID}}] Received: {{.Subject}}\n\n{{if eq .Subject \"poison\"}}{{index .URLs 99}}{{end}}Thanks.\n"
	if err := os.WriteFile(filepath.Join(dir, "en", "ack.tmpl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestPoisonedBatchStillIngestsGoodMessages: a message whose processing
// fails is committed as a case of its own (raw bytes, class, a note with
// the error), staff are told, and the rest of its batch goes on (SPEC §8).
func TestPoisonedBatchStillIngestsGoodMessages(t *testing.T) {
	f := newFixture(t)
	f.e.Reload(*f.e.opts(), poisonTemplates(t))
	msgs := []Incoming{
		{Raw: report("ada@example.org", "first", "g1@example.org", ""), ReceivedAt: f.now},
		{Raw: report("eve@evil.example", "poison", "p1@evil.example", ""), ReceivedAt: f.now},
		{Raw: report("bob@example.net", "second", "g2@example.net", ""), ReceivedAt: f.now},
	}
	out, err := f.e.Ingest(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || out[0].Failed || !out[1].Failed || out[2].Failed {
		t.Fatalf("outcomes %+v, want the middle one failed, all three cases", out)
	}
	v := f.show(t, out[1].CaseID)
	if !hasEvent(v, "ingest_failed", "index out of range") {
		t.Errorf("failed case events %+v, want ingest_failed with the error", v.Events)
	}
	if len(v.Messages) == 0 || !strings.Contains(strings.Join(v.Messages[0].Problems, "\n"), "processing failed") {
		t.Errorf("failed message carries no note for staff: %+v", v.Messages)
	}
	f.flush(t)
	got := subjects(f.sink.messages())
	want := []string{
		"ada@example.org [CS-2026-0001] Received: first",
		"bob@example.net [CS-2026-0003] Received: second",
		"staff@example.test [CS-2026-0001] New report: first",
		"staff@example.test [CS-2026-0002] New report: poison",
		"staff@example.test [CS-2026-0003] New report: second",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The same bytes again are recognised, not a second case.
	again, err := f.e.Ingest(context.Background(), msgs[1:2])
	if err != nil || !again[0].Duplicate {
		t.Errorf("re-ingest of the failed message: %+v, %v", again, err)
	}
}

// TestPartialErrorMarksCommittedPrefix: the error Ingest returns after a
// store failure part way tells the mailbox how many it may mark.
func TestPartialErrorIsAMailboxPartialError(t *testing.T) {
	err := error(&mailbox.PartialError{Done: 2, Err: &store.WriteError{Err: errors.New("no space")}})
	var pe *mailbox.PartialError
	if !errors.As(err, &pe) || pe.Done != 2 || !store.IsWriteError(err) {
		t.Errorf("%v", err)
	}
}
