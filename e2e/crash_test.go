package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"disclosured/store"
)

const (
	crashReports = 300
	crashKills   = 24 // the brief asks for at least 20
	// crashFinish bounds the last, uninterrupted run: mail whose attempt
	// was recorded just before a kill waits out its backoff (5s, 10s, ...)
	// before it is retried.
	crashFinish = 120 * time.Second
	// crashQuiet is how long the mailboxes must stay unchanged at the end.
	crashQuiet = 3 * time.Second
)

var (
	ackSubjectRE   = regexp.MustCompile(`^\[(CS-\d{4}-\d{4})\] Received: (.*)$`)
	staffSubjectRE = regexp.MustCompile(`^\[(CS-\d{4}-\d{4})\] New report: (.*)$`)
	ingestedRE     = regexp.MustCompile(`msg="message ingested"`)
	mailSentRE     = regexp.MustCompile(`msg="mail sent".* mail_id=(\d+)`)
)

// kill9 SIGKILLs the daemon, as a power cut or the OOM killer would, and
// waits for it to exit. It takes the place of stop: the test's cleanup
// then leaves the process alone. It fails the test if the daemon had
// already exited on its own (e.g. because it could not open its store).
func (d *daemon) kill9(t *testing.T) {
	t.Helper()
	d.stopOnce.Do(func() {
		if !d.running() {
			t.Errorf("daemon exited before it was killed: %v\n%s", d.waitErr, lastLines(d.log(), 30))
			return
		}
		if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatalf("SIGKILL daemon: %v", err)
		}
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("daemon did not exit within 10s of SIGKILL")
		}
		var ee *exec.ExitError
		if !errors.As(d.waitErr, &ee) {
			t.Errorf("daemon exit after SIGKILL: %v", d.waitErr)
		} else if ws, ok := ee.Sys().(syscall.WaitStatus); ok && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL) {
			t.Errorf("daemon exited with %v before SIGKILL reached it\n%s", d.waitErr, lastLines(d.log(), 30))
		}
	})
}

// freeTCPAddr returns a loopback address nobody listens on right now.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// outboxPending scrapes disclosured_outbox_pending from the daemon's
// /metrics.
func outboxPending(addr string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "disclosured_outbox_pending "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no disclosured_outbox_pending in /metrics (HTTP %s)", resp.Status)
}

// unprocessed returns the UIDs in mailbox that the daemon has not marked
// processed yet.
func unprocessed(c *imapclient.Client, mailbox string) ([]imap.UID, error) {
	if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, err
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{"$Processed", imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return nil, err
	}
	return data.AllUIDs(), nil
}

func mailboxCount(c *imapclient.Client, mailbox string) (int, error) {
	st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return 0, err
	}
	if st.NumMessages == nil {
		return 0, errors.New("STATUS without MESSAGES")
	}
	return int(*st.NumMessages), nil
}

// cliOutput runs the daemon binary like runCLI, but is safe to call from
// goroutines other than the test's.
func cliOutput(cfgPath string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{args[0], "-c", cfgPath}, args[1:]...)
	cmd := exec.CommandContext(ctx, binPath, full...)
	cmd.Env = daemonEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("disclosured %s: %v\n%s", strings.Join(full, " "), err, errb.String())
	}
	return out.String(), nil
}

// TestKillNineLosesNothing SIGKILLs the daemon again and again while it
// ingests 300 reports and sends their acknowledgments, then lets one run
// finish, and checks SPEC §8: every report is one case, the store is
// intact, every ack went out, and only a kill between the SMTP server's
// acceptance and the daemon recording it can duplicate a mail.
func TestKillNineLosesNothing(t *testing.T) {
	env := mailstack(t)
	start := time.Now()
	pw := env["MAILSTACK_PASSWORD"]
	sec, rep, staff := env["MAILSTACK_SECURITY_USER"], env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_STAFF_USER"]
	if rep != "reporter@example.org" {
		t.Logf("reporter is %s", rep)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("E2E_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("E2E_CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("kill schedule seed %d (rerun with E2E_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	clearInboxes(t, env)
	mark := marker(t)
	subjects := make([]string, crashReports)
	want := map[string]bool{}
	c := imapLogin(t, env, sec, pw)
	for i := range subjects {
		subj := fmt.Sprintf("kill9 report %03d %s", i, mark)
		subjects[i] = subj
		want[subj] = true
		raw := buildMail([][2]string{
			{"From", rep}, {"To", sec}, {"Subject", subj},
			{"Message-ID", fmt.Sprintf("<kill9-%03d-%s@example.org>", i, mark)},
			{"Date", time.Now().Format(time.RFC1123Z)},
		}, fmt.Sprintf("Report %d: SQL injection in /item?id=%d (%s)\n", i, i, mark))
		appendOn(t, c, "INBOX", raw, time.Time{})
	}
	t.Logf("%d reports appended in %v", crashReports, time.Since(start).Round(time.Millisecond))

	httpAddr := freeTCPAddr(t)
	cfg := writeConfig(t, env, map[string]any{
		"limits.acks_per_sender_per_day": 100000,
		"staff.notify":                   []string{staff},
		"http.listen":                    httpAddr,
	})

	// Kill phase.
	killStart := time.Now()
	var ingested, sent int
	var runLogs []string // of the killed runs, then the final one
	for i := range crashKills {
		d := startDaemon(t, cfg)
		delay := time.Duration(50+rng.IntN(551)) * time.Millisecond
		if raceEnabled {
			// A -race daemon takes longer than the whole window to start
			// and ~1.5s for its first batch: count the delay from its
			// "started" line and stretch it, or every kill would land
			// before it commits anything.
			waitLog(t, d, `msg="disclosured started"`, 20*time.Second)
			delay *= 6
		}
		time.Sleep(delay)
		d.kill9(t)
		log := d.log()
		in, out := len(ingestedRE.FindAllStringIndex(log, -1)), len(mailSentRE.FindAllStringIndex(log, -1))
		runLogs = append(runLogs, log)
		ingested += in
		sent += out
		t.Logf("kill %2d after %3dms: this run logged %3d ingested, %3d sent", i+1, delay.Milliseconds(), in, out)
	}
	if t.Failed() {
		t.FailNow()
	}
	left, err := unprocessed(c, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kills in %v: %d ingests and %d sends logged; %d of %d reports still unprocessed",
		crashKills, time.Since(killStart).Round(time.Millisecond), ingested, sent, len(left), crashReports)

	// Final run: let it finish.
	finStart := time.Now()
	d := startDaemon(t, cfg)
	rc, sc := imapLogin(t, env, rep, pw), imapLogin(t, env, staff, pw)
	deadline := time.Now().Add(crashFinish)
	var lastRep, lastStaff, pending int
	var lastPendingErr error
	stableSince := time.Now()
	for {
		if !d.running() {
			t.Fatalf("daemon exited during the final run: %v", d.waitErr)
		}
		left, err := unprocessed(c, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		nRep, err := mailboxCount(rc, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		nStaff, err := mailboxCount(sc, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		pending, lastPendingErr = outboxPending(httpAddr)
		if nRep != lastRep || nStaff != lastStaff {
			lastRep, lastStaff, stableSince = nRep, nStaff, time.Now()
		}
		done := len(left) == 0 && lastPendingErr == nil && pending == 0 &&
			nRep >= crashReports && nStaff >= crashReports
		if done && time.Since(stableSince) >= crashQuiet {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("final run not done within %v: %d unprocessed, outbox pending %d (%v), reporter has %d mails, staff %d",
				crashFinish, len(left), pending, lastPendingErr, nRep, nStaff)
		}
		time.Sleep(250 * time.Millisecond)
	}
	d.stop(t)
	runLogs = append(runLogs, d.log())
	t.Logf("final run finished in %v", time.Since(finStart).Round(time.Millisecond))
	if t.Failed() {
		t.FailNow()
	}

	// (1) One case per report.
	out, code := runCLI(t, cfg, "cases", "--json")
	if code != 0 {
		t.Fatalf("cases --json: exit %d", code)
	}
	var cases []struct {
		ID       string `json:"id"`
		Subject  string `json:"subject"`
		Reporter string `json:"reporter"`
	}
	if err := json.Unmarshal([]byte(out), &cases); err != nil {
		t.Fatalf("cases --json: %v\n%.500s", err, out)
	}
	caseOf := map[string]string{} // subject -> case id
	perSubject := map[string][]string{}
	for _, cs := range cases {
		perSubject[cs.Subject] = append(perSubject[cs.Subject], cs.ID)
		caseOf[cs.Subject] = cs.ID
		if !want[cs.Subject] {
			t.Errorf("case %s has subject %q, which no report had", cs.ID, cs.Subject)
		}
		if cs.Reporter != rep {
			t.Errorf("case %s has reporter %q, want %s", cs.ID, cs.Reporter, rep)
		}
	}
	if len(cases) != crashReports {
		t.Errorf("%d cases, want %d", len(cases), crashReports)
	}
	for _, s := range subjects {
		switch ids := perSubject[s]; len(ids) {
		case 1:
		case 0:
			t.Errorf("report %q is not a case: LOST", s)
		default:
			t.Errorf("report %q is %d cases: %v", s, len(ids), ids)
		}
	}

	// show --json of every case: its ack and staff notice are sent.
	var (
		mu       sync.Mutex
		showErrs []string
		wg       sync.WaitGroup
	)
	ids := make(chan string)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				problem := checkShow(cfg, id)
				if problem != "" {
					mu.Lock()
					showErrs = append(showErrs, problem)
					mu.Unlock()
				}
			}
		}()
	}
	for _, cs := range cases {
		ids <- cs.ID
	}
	close(ids)
	wg.Wait()
	sort.Strings(showErrs)
	for _, e := range showErrs {
		t.Error(e)
	}

	// (2) The store opens and every message loads intact.
	attempts := checkStoreIntact(t, filepath.Join(filepath.Dir(cfg), "d.db"))

	// (3), (4) Every ack and staff notice was delivered; extra copies only
	// as many as there were kills.
	ackCopies, ackDups := countCopies(t, env, rep, ackSubjectRE, subjects, caseOf, "ack")
	staffCopies, staffDups := countCopies(t, env, staff, staffSubjectRE, subjects, caseOf, "new-report")
	t.Logf("duplicates after %d kills: %d acks, %d staff notices", crashKills, ackDups, staffDups)
	if ackDups+staffDups > crashKills {
		t.Errorf("%d duplicate mails after %d kills: more than one per kill", ackDups+staffDups, crashKills)
	}
	// "mail sent" is logged inside the transaction that records it, so a
	// mail logged as sent in a killed run and again later had its record
	// lost by that kill after the server accepted it: a duplicate. Besides
	// those, a kill can catch one more mail between the server's reply and
	// its log line. More than one lost record at one kill is more than
	// the one unavoidable duplicate.
	lost := lostRecords(runLogs)
	t.Logf("sent-records lost per kill (each a duplicate): %v", lost)
	for i, n := range lost {
		if n > 1 {
			t.Errorf("kill %d lost the records of %d mails the server had accepted: at most one may be in flight", i+1, n)
		}
	}
	// A mail can only have reached the server more often than the daemon
	// attempted it if something other than the kill window duplicated it.
	hist := map[int]int{}
	for _, kc := range []struct {
		kind   string
		copies map[string]int
	}{{"ack", ackCopies}, {"new-report", staffCopies}} {
		for subj, n := range kc.copies {
			a := attempts[caseOf[subj]+"/"+kc.kind]
			hist[a]++
			if n > a {
				t.Errorf("%s of %s (%q) arrived %d times but was attempted %d times", kc.kind, caseOf[subj], subj, n, a)
			}
		}
	}
	t.Logf("outbox attempts per mail (attempts: mails): %v", hist)
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// lostRecords returns, for every killed run (all of logs but the last),
// how many mails it logged as sent that a later run sent again.
func lostRecords(logs []string) []int {
	sentIn := make([]map[string]bool, len(logs))
	for i, l := range logs {
		sentIn[i] = map[string]bool{}
		for _, m := range mailSentRE.FindAllStringSubmatch(l, -1) {
			sentIn[i][m[1]] = true
		}
	}
	lost := make([]int, len(logs)-1)
	for i := range lost {
		for id := range sentIn[i] {
			for _, later := range sentIn[i+1:] {
				if later[id] {
					lost[i]++
					break
				}
			}
		}
	}
	return lost
}

// checkShow returns a problem with case id's `show --json`, or "".
func checkShow(cfg, id string) string {
	out, err := cliOutput(cfg, "show", id, "--json")
	if err != nil {
		return err.Error()
	}
	var v struct {
		Messages []struct {
			Direction string `json:"direction"`
			Kind      string `json:"kind"`
			Status    string `json:"status"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return fmt.Sprintf("show %s --json: %v", id, err)
	}
	var problems []string
	kinds := map[string]int{}
	for _, m := range v.Messages {
		if m.Direction != "out" {
			continue
		}
		kinds[m.Kind]++
		if m.Status != store.MailSent {
			problems = append(problems, fmt.Sprintf("%s mail is %q", m.Kind, m.Status))
		}
	}
	if kinds["ack"] != 1 || kinds["new-report"] != 1 {
		problems = append(problems, fmt.Sprintf("outgoing mail %v, want one ack and one new-report", kinds))
	}
	if len(problems) > 0 {
		return fmt.Sprintf("show %s: %s", id, strings.Join(problems, "; "))
	}
	return ""
}

// checkStoreIntact opens the store read-only and loads every case, message
// and raw body, checking each body against its recorded SHA-256, and that
// the outbox has nothing pending or failed. It returns the attempts of
// each outgoing mail, keyed by "<case id>/<kind>".
func checkStoreIntact(t *testing.T, path string) (attempts map[string]int) {
	t.Helper()
	attempts = map[string]int{}
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("store does not open after the kills: %v", err)
	}
	defer db.Close()
	var nCases, nIn, nOut int
	err = db.View(func(tx *store.Tx) error {
		list, err := tx.Cases()
		if err != nil {
			return fmt.Errorf("cases: %w", err)
		}
		nCases = len(list)
		states := map[string]int{}
		for _, c := range list {
			states[c.State]++
		}
		if got, _ := tx.CaseStats(); !maps.Equal(got, states) {
			t.Errorf("running totals of cases by state %v, the records say %v", got, states)
		}
		for _, c := range list {
			if _, err := tx.Events(c.ID); err != nil {
				return fmt.Errorf("%s events: %w", c.ID, err)
			}
			msgs, err := tx.Messages(c.ID)
			if err != nil {
				return fmt.Errorf("%s messages: %w", c.ID, err)
			}
			for _, m := range msgs {
				if m.Direction != "in" {
					nOut++
					om, err := tx.Mail(m.OutboxID)
					if err != nil {
						t.Errorf("%s: %s mail: %v", c.ID, m.Kind, err)
						continue
					}
					attempts[c.ID+"/"+m.Kind] = om.Attempts
					continue
				}
				nIn++
				raw, err := tx.Raw(m.Key)
				if err != nil {
					t.Errorf("%s: raw %s: %v", c.ID, m.Key, err)
					continue
				}
				sum := sha256.Sum256(raw)
				if m.SHA256 != "" && hex.EncodeToString(sum[:]) != m.SHA256 {
					t.Errorf("%s: raw %s does not match its SHA-256", c.ID, m.Key)
				}
			}
		}
		if pending, failed := tx.OutboxCounts(); pending != 0 || failed != 0 {
			t.Errorf("outbox has %d pending and %d failed mails, want none", pending, failed)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	if nIn != nCases {
		t.Errorf("store holds %d incoming messages in %d cases, want one each", nIn, nCases)
	}
	t.Logf("store intact: %d cases, %d incoming and %d outgoing messages", nCases, nIn, nOut)
	return attempts
}

// countCopies counts the mails in user's INBOX whose subject matches re
// ("[CS-…] <what>: <report subject>") per report subject. It fails the
// test for a subject with none or with a case id other than the report's
// case, and returns the copies per subject and the number of extra copies.
func countCopies(t *testing.T, env map[string]string, user string, re *regexp.Regexp, subjects []string, caseOf map[string]string, what string) (copies map[string]int, dups int) {
	t.Helper()
	msgs, err := listMail(imapLogin(t, env, user, env["MAILSTACK_PASSWORD"]), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	copies = map[string]int{}
	other := 0
	for _, m := range msgs {
		s := subjectOf(m.Raw)
		sm := re.FindStringSubmatch(s)
		if sm == nil {
			other++
			continue
		}
		copies[sm[2]]++
		if id := caseOf[sm[2]]; id != "" && id != sm[1] {
			t.Errorf("%s for %q names %s, but the report is %s", what, sm[2], sm[1], id)
		}
	}
	if other > 0 {
		t.Errorf("%s has %d mails that are not a %s", user, other, what)
	}
	var dupList []string
	for _, s := range subjects {
		switch n := copies[s]; {
		case n == 0:
			t.Errorf("no %s for %q reached %s", what, s, user)
		case n > 1:
			dups += n - 1
			dupList = append(dupList, fmt.Sprintf("%q x%d", s, n))
		}
	}
	if len(dupList) > 0 {
		t.Logf("%s delivered more than once: %s", what, strings.Join(dupList, ", "))
	}
	return copies, dups
}
