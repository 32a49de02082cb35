package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"disclosured/store"
	"disclosured/workflow"
)

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestLargeAttachmentBoundedMemory ingests a report with a 20 MiB
// attachment through Dovecot: it becomes a case with the attachment listed
// and kept in the raw message, and the daemon's peak memory stays within a
// small multiple of the message.
func TestLargeAttachmentBoundedMemory(t *testing.T) {
	env := mailstack(t)
	clearInboxes(t, env)
	blob := make([]byte, 20<<20)
	rand.Read(blob)
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: Rita <%s>\r\nTo: %s\r\nSubject: PoC with a large capture\r\nMessage-ID: <big@example.org>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"+
		"The capture shows the token leaking.\r\n--b\r\nContent-Type: application/vnd.tcpdump.pcap\r\n"+
		"Content-Disposition: attachment; filename=\"../../etc/capture.pcap\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_SECURITY_USER"])
	enc := base64.StdEncoding.EncodeToString(blob)
	for len(enc) > 76 {
		msg.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	msg.WriteString(enc + "\r\n--b--\r\n")
	size := int64(msg.Len())
	appendMail(t, env, env["MAILSTACK_SECURITY_USER"], env["MAILSTACK_PASSWORD"], "INBOX", msg.Bytes(), time.Now())

	// Memory is measured on a plain build: under go test -race the shared
	// binary carries the race detector's shadow memory.
	bin := filepath.Join(t.TempDir(), "disclosured")
	build := exec.Command("go", "build", "-o", bin, "./cmd/disclosured")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := writeConfig(t, env, map[string]any{"limits.max_message_bytes": 64 << 20})
	d := startDaemonBin(t, bin, cfg)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.log(), `msg="batch processed"`) {
		if time.Now().After(deadline) {
			t.Fatal("the message was not processed within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	rss := peakRSS(t, d.cmd.Process.Pid)
	t.Logf("message %.1f MiB, daemon peak RSS %.1f MiB (%.1fx)", float64(size)/(1<<20), float64(rss)/(1<<20), float64(rss)/float64(size))
	d.stop(t)
	// Issue 7's target is 3x; the bound here catches a regression to
	// holding many copies (BENCHMARKS.md tracks the real figure).
	if rss > 8*size {
		t.Errorf("peak RSS %d bytes is more than 8x the %d-byte message", rss, size)
	}

	db, err := store.Open(filepath.Join(filepath.Dir(cfg), "d.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := workflow.ShowCase(db, "CS-"+strconv.Itoa(time.Now().Year())+"-0001")
	if err != nil {
		t.Fatal(err)
	}
	in := v.Messages[0]
	if len(in.Attachments) != 1 || in.Attachments[0].Size != 20<<20 || in.Attachments[0].Filename != "capture.pcap" || in.Truncated {
		t.Errorf("attachments %+v, truncated %v; want the 20 MiB capture.pcap, its path stripped", in.Attachments, in.Truncated)
	}
	if !strings.Contains(in.Text, "token leaking") {
		t.Errorf("report text lost: %q", in.Text)
	}
}
