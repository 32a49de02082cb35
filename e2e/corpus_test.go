package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"disclosured/store"
	"disclosured/workflow"
)

// corpusDir is the shared real-world corpus; DISCLOSURED_CORPUS overrides.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DISCLOSURED_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus not found at %s: %v", dir, err)
		}
		t.Skipf("corpus not found at %s", dir)
	}
	return dir
}

// normHash hashes a message without its CR bytes and trailing newlines:
// Dovecot serves LF files with CRLF and drops stray bare CRs.
func normHash(raw []byte) string {
	s := strings.ReplaceAll(string(raw), "\r", "")
	sum := sha256.Sum256([]byte(strings.TrimRight(s, "\n")))
	return hex.EncodeToString(sum[:])
}

var batchRE = regexp.MustCompile(`msg="batch processed".* messages=(\d+)`)

// TestCorpusThroughIntake puts every corpus file into security@'s mailbox
// on Dovecot and runs the daemon over them through the real IMAP intake:
// every file is stored once (files that Dovecot serves byte-identically,
// like sisimai's LF/CRLF/CR variants, once together), nothing panics, no
// bounce or auto-reply is answered and every human mail is.
func TestCorpusThroughIntake(t *testing.T) {
	env := mailstack(t)
	dir := corpusDir(t)
	clearInboxes(t, env)
	pw := env["MAILSTACK_PASSWORD"]
	category := map[string]string{} // content -> a file with it
	copies := map[string]int{}      // content -> how many files have it
	n := 0
	c := imapLogin(t, env, env["MAILSTACK_SECURITY_USER"], pw)
	received := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, cat := range []string{"bounce", "autoreply", "human", "malformed"} {
		files, err := filepath.Glob(filepath.Join(dir, cat, "*.eml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no corpus files in %s/%s: %v", dir, cat, err)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			category[normHash(raw)] = cat + "/" + filepath.Base(f)
			copies[normHash(raw)]++
			appendOn(t, c, "INBOX", raw, received)
			n++
		}
	}
	cfg := writeConfig(t, env, map[string]any{"limits.acks_per_sender_per_day": 1000})
	d := startDaemon(t, cfg)
	deadline := time.Now().Add(90 * time.Second)
	for {
		done := 0
		for _, m := range batchRE.FindAllStringSubmatch(d.log(), -1) {
			k, _ := strconv.Atoi(m[1])
			done += k
		}
		if done >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d messages processed in 90s", done, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.stop(t)
	if strings.Contains(d.log(), "panicked") {
		t.Errorf("a panic was recovered while ingesting the corpus")
	}

	db, err := store.Open(filepath.Join(filepath.Dir(cfg), "d.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	list, err := workflow.ListCases(db, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, c := range list {
		v, err := workflow.ShowCase(db, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		acked := false
		for _, m := range v.Messages {
			acked = acked || m.Kind == "ack"
		}
		err = db.View(func(tx *store.Tx) error {
			msgs, err := tx.Messages(c.ID)
			if err != nil {
				return err
			}
			first := true
			for _, m := range msgs {
				if m.Direction != "in" {
					continue
				}
				raw, err := tx.Raw(m.Key)
				if err != nil {
					return err
				}
				sum := normHash(raw)
				file := category[sum]
				if file == "" {
					t.Errorf("%s holds a message that is not a corpus file (%d bytes): %.80q", c.ID, len(raw), raw)
				}
				seen[sum]++
				if first {
					first = false
					isMachine := strings.HasPrefix(file, "bounce/") || strings.HasPrefix(file, "autoreply/")
					if isMachine && acked {
						t.Errorf("%s (%s, class %s) was acknowledged", c.ID, file, c.Class)
					}
					if strings.HasPrefix(file, "human/") && (!acked || c.Reporter == "") {
						t.Errorf("%s (%s) was not acknowledged (class %s)", c.ID, file, c.Class)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Files that differ only in line endings may reach us byte-identical
	// (stored once) or not (stored once each); never more, never less.
	for sum, file := range category {
		if seen[sum] < 1 || seen[sum] > copies[sum] {
			t.Errorf("%s stored %d times (%d files with its content)", file, seen[sum], copies[sum])
		}
	}
	t.Logf("%d corpus files (%d distinct as served) became %d cases", n, len(category), len(list))
}
