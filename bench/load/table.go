package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// row is one line of the results table. ratio is figure ÷ baseline in the
// direction where more is worse: time over time, or for rates the
// baseline's rate over ours (how many times the baseline's time we take).
type row struct {
	id       string
	what     string
	figure   string
	baseline string
	ratio    string
	diff     string
	target   string
	met      string
}

// The row IDs every full run prints; the smoke test checks them all.
var (
	goBenchRowIDs = []string{"3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "4f", "4g"}
	latencyRowIDs = []string{"1a", "1b", "1c", "1d", "1e"}
	backlogRowIDs = []string{"2a", "2b", "2c"}
	memoryRowIDs  = []string{"5a", "5b"}
)

func allRowIDs() []string {
	var ids []string
	for _, l := range [][]string{latencyRowIDs, backlogRowIDs, goBenchRowIDs, memoryRowIDs} {
		ids = append(ids, l...)
	}
	return ids
}

func failedRow(id string, err error) row {
	msg := strings.SplitN(err.Error(), "\n", 2)[0]
	if len(msg) > 80 {
		msg = msg[:80] + "…"
	}
	return row{id: id, what: "(not measured)", figure: "FAILED: " + msg, baseline: "–", ratio: "–", diff: "", target: "–", met: "–"}
}

func sortRows(rows []row) {
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].id < rows[j].id })
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func signedMS(d time.Duration) string {
	return fmt.Sprintf("%+.0f ms", float64(d)/float64(time.Millisecond))
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func latencyRows(r *latencyResult) []row {
	p := func(ds []time.Duration, q float64) time.Duration { return percentile(ds, q) }
	base50, base95, base99 := p(r.notify, 50), p(r.notify, 95), p(r.notify, 99)
	a50, a95, a99 := p(r.ack, 50), p(r.ack, 95), p(r.ack, 99)
	// Outside view: the acknowledgment's arrival in the reporter's INBOX,
	// as an IDLE client there sees it, minus one notify delay (the median
	// baseline), which the baseline itself does not pay twice.
	outside := make([]time.Duration, len(r.seen))
	for i, s := range r.seen {
		outside[i] = s - base50
	}
	o50, o99 := p(outside, 50), p(outside, 99)
	return []row{
		{"1a", "ack latency p50: report accepted by Postfix → our ack accepted by Postfix", ms(a50), ms(base50),
			ratio(float64(a50), float64(base50)), signedMS(a50 - base50), "≤ baseline p50 + 150 ms", yes(a50-base50 <= 150*time.Millisecond)},
		{"1b", "ack latency p95", ms(a95), ms(base95), ratio(float64(a95), float64(base95)), signedMS(a95 - base95), "–", "–"},
		{"1c", "ack latency p99", ms(a99), ms(base99), ratio(float64(a99), float64(base99)), signedMS(a99 - base99),
			"≤ baseline p99 + 400 ms", yes(a99-base99 <= 400*time.Millisecond)},
		{"1d", "ack p50, outside view: ack's IDLE push in reporter INBOX − baseline p50", ms(o50), ms(base50),
			ratio(float64(o50), float64(base50)), signedMS(o50 - base50), "≤ baseline p50 + 150 ms", yes(o50-base50 <= 150*time.Millisecond)},
		{"1e", "ack p99, outside view", ms(o99), ms(base99), ratio(float64(o99), float64(base99)), signedMS(o99 - base99),
			"≤ baseline p99 + 400 ms", yes(o99-base99 <= 400*time.Millisecond)},
	}
}

func backlogRows(r *backlogResult) ([]row, []string) {
	n := r.n
	ingest := float64(r.ingest) / float64(r.fetch)
	acks := float64(r.acks) / float64(r.smtp)
	perMail := (r.allSent - r.firstSent) / time.Duration(max(r.sent-1, 1))
	basePerMail := r.smtp / time.Duration(n)
	rows := []row{
		{"2a", fmt.Sprintf("backlog ingest: %d waiting reports → all committed as cases, acks queued, marked processed (from daemon start)", n),
			secs(r.ingest), secs(r.fetch) + " (go-imap FETCH BODY.PEEK[] of all)", fmt.Sprintf("%.1f×", ingest), "", "< 10×", yes(ingest < 10)},
		{"2b", fmt.Sprintf("backlog acks: daemon start → all %d acks accepted by Postfix", n),
			secs(r.acks), secs(r.smtp) + fmt.Sprintf(" (go-smtp submits %d acks)", n), fmt.Sprintf("%.2f×", acks), "", "< 1.25×", yes(acks < 1.25)},
		{"2c", fmt.Sprintf("outbox send cost per mail (%d mails: acks + staff notices)", r.sent),
			fmt.Sprintf("%.2f ms", float64(perMail)/1e6), fmt.Sprintf("%.2f ms (go-smtp)", float64(basePerMail)/1e6),
			ratio(float64(perMail), float64(basePerMail)), "", "– (explains 2b)", "–"},
	}
	notes := []string{
		fmt.Sprintf("backlog: %d reports (%.1f MB) put in security@'s INBOX over LMTP in %v", n, float64(r.fetchBytes)/1e6, r.deliver.Round(time.Millisecond)),
		fmt.Sprintf("backlog: baseline FETCH cold %v, warm %v (the faster is the baseline)", r.fetchCold.Round(time.Millisecond), r.fetchWarm.Round(time.Millisecond)),
		fmt.Sprintf("backlog: daemon's first mail accepted %v after start, last (%d mails) %v after start", r.firstSent.Round(time.Millisecond), r.sent, r.allSent.Round(time.Millisecond)),
	}
	return rows, notes
}

// goBenchRows turns the Go benchmark results into rows 3 and 4.
func goBenchRows(res goBenchResults, root string) ([]row, []string) {
	var rows []row
	var notes []string
	get := func(name, unit string) (float64, bool) {
		m, ok := res[name]
		if !ok {
			return 0, false
		}
		v, ok := m[unit]
		return v, ok
	}
	missing := func(id, what string) row {
		return row{id: id, what: what, figure: "not run (see notes)", baseline: "–", ratio: "–", target: "–", met: "–"}
	}

	// 3: parser.
	nmsgs := 0
	if files, err := corpusFiles(corpusDirFor(root)); err == nil {
		nmsgs = len(files)
	}
	pMB, ok1 := get("BenchmarkParseCorpus", "MB/s")
	bMB, ok2 := get("BenchmarkMIMEWalkCorpus", "MB/s")
	pNS, _ := get("BenchmarkParseCorpus", "ns/op")
	bNS, _ := get("BenchmarkMIMEWalkCorpus", "ns/op")
	pAl, _ := get("BenchmarkParseCorpus", "allocs/op")
	bAl, _ := get("BenchmarkMIMEWalkCorpus", "allocs/op")
	if ok1 && ok2 && nmsgs > 0 {
		n := float64(nmsgs)
		rows = append(rows,
			row{"3a", "parser throughput over shared/corpus", fmt.Sprintf("%.1f MB/s", pMB), fmt.Sprintf("%.1f MB/s (go-message decodes every part)", bMB),
				ratio(bMB, pMB), "", "– (no target)", "–"},
			row{"3b", "parser messages per second", fmt.Sprintf("%.0f msgs/s", n/(pNS/1e9)), fmt.Sprintf("%.0f msgs/s", n/(bNS/1e9)),
				ratio(pNS, bNS), "", "– (no target)", "–"},
			row{"3c", "parser allocations per message", fmt.Sprintf("%.0f allocs/msg", pAl/n), fmt.Sprintf("%.0f allocs/msg", bAl/n),
				ratio(pAl, bAl), "", "– (no target)", "–"})
		notes = append(notes, fmt.Sprintf("parser: corpus of %d messages at %s", nmsgs, corpusDirFor(root)))
	}
	if v, ok := get("BenchmarkIngest", "ms/batch"); ok {
		rate, _ := get("BenchmarkIngest", "msgs/s")
		notes = append(notes, fmt.Sprintf("ingest in-process (workflow BenchmarkIngest, no IMAP): %.1f ms per batch of 200 new reports, %.0f msgs/s", v, rate))
	} else {
		for _, id := range []string{"3a", "3b", "3c"} {
			rows = append(rows, missing(id, "parser (corpus not available?)"))
		}
		notes = append(notes, "parser: BenchmarkParseCorpus or BenchmarkMIMEWalkCorpus did not report (no corpus at "+corpusDirFor(root)+"; set DISCLOSURED_CORPUS)")
	}

	// 4: store, then sweep.
	type storeRow struct {
		id, what, bench, unit string
	}
	for _, s := range []storeRow{
		{"4a", "case creation, one per transaction (fsync each)", "BenchmarkCreateCase/per-tx", "cases/s"},
		{"4b", "case creation, 100 per transaction", "BenchmarkCreateCase/batch-100", "cases/s"},
		{"4c", "event append, one per transaction (fsync each)", "BenchmarkAppendEvent/per-tx", "events/s"},
		{"4d", "event append, 100 per transaction", "BenchmarkAppendEvent/batch-100", "events/s"},
	} {
		v, ok := get(s.bench, s.unit)
		baseName := "BenchmarkBoltPut/" + strings.SplitN(s.bench, "/", 2)[1]
		b, okb := get(baseName, "puts/s")
		if !ok || !okb {
			rows = append(rows, missing(s.id, s.what))
			continue
		}
		rows = append(rows, row{s.id, s.what, fmt.Sprintf("%.0f %s", v, s.unit), fmt.Sprintf("%.0f puts/s (bare bbolt Put, same batching)", b),
			ratio(b, v), "", "– (no target)", "–"})
	}
	var big int
	for name := range res {
		var c, d int
		if _, err := fmt.Sscanf(name, "BenchmarkSweep/cases=%d/due=%d", &c, &d); err == nil && c > big {
			big = c
		}
	}
	sweep := func(cases, due int) (float64, bool) {
		return get(fmt.Sprintf("BenchmarkSweep/cases=%d/due=%d", cases, due), "ms/sweep")
	}
	s100, ok1 := sweep(big, 100)
	s1000, ok2 := sweep(big, 1000)
	small100, ok3 := sweep(1000, 100)
	if ok1 && ok3 {
		r := s100 / small100
		rows = append(rows, row{"4e", fmt.Sprintf("timer sweep: %d open cases, 100 due", big), fmt.Sprintf("%.1f ms", s100),
			fmt.Sprintf("%.1f ms (1,000 cases, 100 due)", small100), fmt.Sprintf("%.2f×", r), "",
			"< 50 ms, and ≈ 1× (independent of total)", yes(s100 < 50 && r < 2)})
	} else {
		rows = append(rows, missing("4e", "timer sweep, 100 due"))
	}
	if ok1 && ok2 {
		r := s1000 / s100
		rows = append(rows, row{"4f", fmt.Sprintf("timer sweep: %d open cases, 1,000 due", big), fmt.Sprintf("%.1f ms", s1000),
			fmt.Sprintf("%.1f ms (same store, 100 due)", s100), fmt.Sprintf("%.2f×", r), "",
			"≤ 10× (proportional to due entries)", yes(r <= 11)})
	} else {
		rows = append(rows, missing("4f", "timer sweep, 1,000 due"))
	}
	// The staff overview reads the active index: the total must not matter.
	overview := func(cases int) (float64, bool) {
		return get(fmt.Sprintf("BenchmarkOverview/cases=%d/open=1000", cases), "ms/overview")
	}
	ovBig, okb := overview(big)
	ovSmall, oks := overview(1000)
	if okb && oks {
		r := ovBig / ovSmall
		rows = append(rows, row{"4g", fmt.Sprintf("staff overview: %d cases, 1,000 open", big), fmt.Sprintf("%.1f ms", ovBig),
			fmt.Sprintf("%.1f ms (1,000 cases, 1,000 open)", ovSmall), fmt.Sprintf("%.2f×", r), "",
			"≈ 1× (independent of total)", yes(r < 2)})
	} else {
		rows = append(rows, missing("4g", "staff overview, 1,000 open"))
	}
	return rows, notes
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func memoryRows(r *memResult) ([]row, []string) {
	rows := []row{
		{"5a", fmt.Sprintf("peak RSS (VmHWM), store of %d cases, after one report", r.cases), mib(r.full.HWM),
			mib(r.empty.HWM) + " (empty store, same report)", ratio(float64(r.full.HWM), float64(r.empty.HWM)), "",
			"< 64 MiB", yes(r.full.HWM < 64<<20)},
		{"5b", fmt.Sprintf("peak RSS ingesting one %.1f MiB message (%.0f MiB attachment, base64)", float64(r.msgSize)/(1<<20), float64(r.attach)/(1<<20)),
			mib(r.big.HWM), mib(r.msgSize) + " (the message)", ratio(float64(r.big.HWM), float64(r.msgSize)), "",
			"< 3× message size", yes(r.big.HWM < 3*r.msgSize)},
	}
	notes := []string{
		fmt.Sprintf("memory: store of %d cases is %d MiB on disk, generated in %v", r.cases, r.dbSize>>20, r.gen.Round(time.Millisecond)),
		fmt.Sprintf("memory: RSS at the end — empty store %s (anon %s, file %s); %d cases %s (anon %s, file %s); after the large message %s (anon %s, file %s)",
			mib(r.empty.RSS), mib(r.empty.Anon), mib(r.empty.File), r.cases, mib(r.full.RSS), mib(r.full.Anon), mib(r.full.File),
			mib(r.big.RSS), mib(r.big.Anon), mib(r.big.File)),
	}
	return rows, notes
}

// renderTable formats rows and notes as Markdown, with the machine.
func renderTable(rows []row, notes []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Results (%s)\n\n", time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s\n\n", machine())
	b.WriteString("| # | figure | measured | baseline (same run) | ratio | difference | target | met? |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.id, r.what, r.figure, r.baseline, r.ratio, r.diff, r.target, r.met)
	}
	b.WriteString("\n")
	for _, n := range notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	return b.String()
}

// machine describes the host: CPUs, memory, CPU model, kernel.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				var kb int64
				fmt.Sscan(f[1], &kb)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (nproc), %s RAM, %s, %s%s", runtime.NumCPU(), mem, model, runtime.Version(), kernel)
}
