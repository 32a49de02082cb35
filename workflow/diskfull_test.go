package workflow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"disclosured/mailbox"
	"disclosured/store"
)

// smallDisk mounts a tmpfs of size bytes for the test (root only).
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the full-disk test needs root to mount a tmpfs")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestFullDiskCommitsWhatFits is issue 12 §1: when the store runs out of
// room, the batch is retried in smaller parts so every message that fits
// is committed (and may be marked), the store reports itself unhealthy at
// once, and once room is back the rest follows, each message one case.
func TestFullDiskCommitsWhatFits(t *testing.T) {
	f := newFixture(t)
	dir := smallDisk(t, 16<<20)
	db, err := store.Open(filepath.Join(dir, "d.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f.e = New(db, *f.e.opts(), f.e.tmpl.Load())
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 13<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	var msgs []Incoming
	for i := range 10 {
		body := strings.Repeat(fmt.Sprintf("line %d of the proof of concept\r\n", i), 3000) // ~100 KB
		raw := strings.Replace(string(report(fmt.Sprintf("r%d@example.org", i), fmt.Sprintf("report %d", i), fmt.Sprintf("m%d@example.org", i), "")),
			"is vulnerable.\r\n", "is vulnerable.\r\n"+body, 1)
		msgs = append(msgs, Incoming{Raw: []byte(raw), ReceivedAt: f.now})
	}
	out, err := f.e.Ingest(context.Background(), msgs)
	var pe *mailbox.PartialError
	if err == nil || !store.IsWriteError(err) || !errors.As(err, &pe) {
		t.Fatalf("ingest on a full disk: %d outcomes, err %v; want a partial store write error", len(out), err)
	}
	if pe.Done != len(out) || pe.Done == 0 || pe.Done >= len(msgs) {
		t.Fatalf("committed %d of %d (outcomes %d); want some but not all", pe.Done, len(msgs), len(out))
	}
	if h := db.WriteHealth(); h == nil || h.Error() != "store: no space left on device" {
		t.Errorf("WriteHealth() = %v, want store: no space left on device", h)
	}
	if db.WriteErrors() == 0 {
		t.Error("no store write error counted")
	}
	t.Logf("committed %d of %d before the disk was full", pe.Done, len(msgs))

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	again, err := f.e.Ingest(context.Background(), msgs)
	if err != nil {
		t.Fatalf("ingest after room came back: %v", err)
	}
	for i, o := range again {
		if dup := i < pe.Done; o.Duplicate != dup {
			t.Errorf("message %d: duplicate %v, want %v", i, o.Duplicate, dup)
		}
	}
	if db.WriteHealth() != nil {
		t.Errorf("still unhealthy after a successful commit: %v", db.WriteHealth())
	}
	var n int
	db.View(func(tx *store.Tx) error {
		cs, err := tx.Cases()
		n = len(cs)
		return err
	})
	if n != len(msgs) {
		t.Errorf("%d cases for %d messages", n, len(msgs))
	}
}
