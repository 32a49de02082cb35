package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildDaemon builds cmd/disclosured into dir, without -race: the daemon is
// measured as it ships.
func buildDaemon(root, dir string) (string, error) {
	bin := filepath.Join(dir, "disclosured")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/disclosured")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/disclosured: %v\n%s", err, out)
	}
	return bin, nil
}

// writeConfig writes a daemon config pointed at the stack into dir, with
// the store at storePath and extra limits. It logs JSON at info level: the
// benchmark reads the daemon's own timestamps of "batch processed" and
// "mail sent" from it.
func writeConfig(st *stack, dir, storePath string, maxMessageBytes int64) (string, error) {
	sec, pw := st.user("SECURITY"), st.password()
	staff := st.user("STAFF")
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, `# written by bench/load
organization:
  name: "CloudSphere"
  address: %s
  case_prefix: "CS"
imap:
  address: %s
  tls: "starttls"
  username: %s
  password: %s
  ca_file: %s
  poll_interval: "60s"
smtp:
  address: %s
  tls: "starttls"
  username: %s
  password: %s
  ca_file: %s
staff:
  addresses: [%s]
  notify: [%s]
  auth: "none"
store:
  path: %s
control:
  socket: %s
http:
  listen: ""
log:
  level: "info"
  format: "json"
limits:
  acks_per_sender_per_day: 100000
`, q(sec), q(st.addr("MAILSTACK_IMAP_PORT")), q(sec), q(pw), q(st.env["MAILSTACK_CA_CERT"]),
		q(st.addr("MAILSTACK_SUBMISSION_PORT")), q(sec), q(pw), q(st.env["MAILSTACK_CA_CERT"]),
		q(staff), q(staff), q(storePath), q(filepath.Join(dir, "ctl.sock")))
	if maxMessageBytes > 0 {
		fmt.Fprintf(&b, "  max_message_bytes: %d\n", maxMessageBytes)
	}
	path := filepath.Join(dir, "config.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// daemon is a `disclosured run` child process with its log in a file.
type daemon struct {
	cmd     *exec.Cmd
	started time.Time
	log     *logTail
	done    chan struct{}
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

func startDaemon(bin, cfgPath, logPath, caFile string) (*daemon, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "-c", cfgPath)
	for _, kv := range os.Environ() {
		// DISCLOSURED_* would override the generated config.
		if !strings.HasPrefix(kv, "DISCLOSURED_") && !strings.HasPrefix(kv, "SSL_CERT_FILE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+caFile)
	cmd.Stdout, cmd.Stderr = f, f
	d := &daemon{cmd: cmd, done: make(chan struct{}), log: &logTail{path: logPath}}
	d.started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	f.Close()
	go func() {
		d.waitErr = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// stop sends SIGTERM and waits up to 15s, then kills. It reports a daemon
// that had already died or did not exit cleanly. Later calls return the
// first result, so a caller may defer it and also check it.
func (d *daemon) stop() error {
	d.stopOnce.Do(func() { d.stopErr = d.terminate() })
	return d.stopErr
}

func (d *daemon) terminate() error {
	select {
	case <-d.done:
		return fmt.Errorf("daemon exited early: %v\n%s", d.waitErr, d.log.last(20))
	default:
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-d.done:
		if d.waitErr != nil {
			return fmt.Errorf("daemon exit after SIGTERM: %v", d.waitErr)
		}
		return nil
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		return errors.New("daemon did not stop within 15s of SIGTERM; killed")
	}
}

// alive fails if the daemon has exited.
func (d *daemon) alive() error {
	select {
	case <-d.done:
		return fmt.Errorf("daemon exited: %v\n%s", d.waitErr, d.log.last(20))
	default:
		return nil
	}
}

// memStatus reads the peak and current resident set of the daemon from
// /proc/PID/status, in bytes. VmHWM is the peak RSS; RssAnon and RssFile
// split the current RSS into heap/stacks and mapped files (the bbolt mmap).
type memStatus struct {
	HWM, RSS, Anon, File int64
}

func (d *daemon) mem() (memStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return memStatus{}, fmt.Errorf("read daemon status: %w", err)
	}
	var m memStatus
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmHWM":
			m.HWM = n << 10
		case "VmRSS":
			m.RSS = n << 10
		case "RssAnon":
			m.Anon = n << 10
		case "RssFile":
			m.File = n << 10
		}
	}
	if m.HWM == 0 {
		return m, errors.New("no VmHWM in /proc status")
	}
	return m, nil
}

// logLine is one JSON line of the daemon's slog output.
type logLine struct {
	Time     time.Time `json:"time"`
	Level    string    `json:"level"`
	Msg      string    `json:"msg"`
	Kind     string    `json:"kind"`
	CaseID   string    `json:"case_id"`
	Messages int       `json:"messages"`
	Err      string    `json:"err"`
}

// logTail reads a growing log file line by line. Only the daemon writes it,
// and complete lines end in a newline, so a partial last line is left for
// the next read.
type logTail struct {
	path   string
	off    int64
	lines  []logLine
	cursor int
}

// poll reads what was appended since the last call.
func (t *logTail) poll() error {
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 1<<16)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return nil // partial line: read again next time
		}
		if err != nil {
			return err
		}
		t.off += int64(len(line))
		var l logLine
		if json.Unmarshal(bytes.TrimSpace(line), &l) == nil {
			t.lines = append(t.lines, l)
		}
	}
}

// next returns the next line after the cursor that matches, waiting up to
// timeout for it, and moves the cursor past it. check, if not nil, is
// called while waiting so a dead daemon fails fast.
func (t *logTail) next(timeout time.Duration, match func(logLine) bool, check func() error) (logLine, error) {
	deadline := time.Now().Add(timeout)
	for {
		for t.cursor < len(t.lines) {
			l := t.lines[t.cursor]
			t.cursor++
			if match(l) {
				return l, nil
			}
		}
		if err := t.poll(); err != nil {
			return logLine{}, err
		}
		if t.cursor < len(t.lines) {
			continue
		}
		if check != nil {
			if err := check(); err != nil {
				return logLine{}, err
			}
		}
		if time.Now().After(deadline) {
			return logLine{}, fmt.Errorf("no matching daemon log line within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// last returns the final n raw lines of the log, for error reports.
func (t *logTail) last(n int) string {
	b, _ := os.ReadFile(t.path)
	return lastLines(string(b), n)
}

// errors returns the messages of every error-level line read so far.
func (t *logTail) errorLines() []string {
	var out []string
	for _, l := range t.lines {
		if l.Level == "ERROR" {
			out = append(out, l.Msg+": "+l.Err)
		}
	}
	return out
}

func isAckSent(l logLine) bool { return l.Msg == "mail sent" && l.Kind == "ack" }

func isMailSent(l logLine) bool { return l.Msg == "mail sent" }

// percentile returns the p-th percentile (0-100) of ds by the nearest-rank
// method.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// startConnected starts the daemon and waits until it has logged in to
// IMAP; on failure the daemon is stopped again.
func startConnected(st *stack, bin, cfgPath, dir string, timeout time.Duration) (*daemon, error) {
	d, err := startDaemon(bin, cfgPath, filepath.Join(dir, "daemon.log"), st.env["MAILSTACK_CA_CERT"])
	if err != nil {
		return nil, err
	}
	if _, err := d.log.next(timeout, func(l logLine) bool { return l.Msg == "imap connected" }, d.alive); err != nil {
		d.stop()
		return nil, fmt.Errorf("daemon did not connect to IMAP: %w\n%s", err, d.log.last(20))
	}
	return d, nil
}
