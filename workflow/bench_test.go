package workflow

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"disclosured/calendar"
	"disclosured/store"
	"disclosured/templates"
)

// BenchmarkSweep times Engine.Sweep over a store of many open cases of which
// only a few are due: the sweep must read the due index, not every case
// (STYLE 6, SPEC §6). Each due case gets a 50 % reminder, so a sweep renders
// and queues one mail per due case and commits with fsync, as in the daemon.
//
// The sub-benchmarks are named cases=N/due=D. Comparing due=1000 with
// due=100 on the same store shows the cost per due entry; comparing
// cases=100000 with cases=1000 at due=100 shows that the total does not
// matter. DISCLOSURED_BENCH_CASES replaces 100000 (bench/load's smoke run
// uses a small store).
func BenchmarkSweep(b *testing.B) {
	big := 100_000
	if s := os.Getenv("DISCLOSURED_BENCH_CASES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("DISCLOSURED_BENCH_CASES=%q: want a number of at least 1000", s)
		}
		big = n
	}
	for _, size := range []int{big, 1000} {
		sf := newSweepFixture(b, size)
		dues := []int{100, 1000}
		if size < 1000*2 {
			dues = []int{100}
		}
		for _, due := range dues {
			b.Run(fmt.Sprintf("cases=%d/due=%d", size, due), func(b *testing.B) {
				ctx := context.Background()
				for range b.N {
					b.StopTimer()
					sf.arm(b, due)
					b.StartTimer()
					actions, err := sf.e.Sweep(ctx, sf.now, false)
					if err != nil {
						b.Fatal(err)
					}
					if len(actions) != due {
						b.Fatalf("sweep did %d actions, want %d", len(actions), due)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/sweep")
			})
		}
	}
}

type sweepFixture struct {
	e   *Engine
	db  *store.DB
	now time.Time
	ids []string
}

// newSweepFixture builds an engine like newFixture's over a store of n open
// cases whose deadlines are all far in the future. The store is written
// directly through store.Tx, 10,000 cases per transaction.
func newSweepFixture(b *testing.B, n int) *sweepFixture {
	b.Helper()
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		b.Fatal(err)
	}
	cal, err := calendar.New(calendar.Options{Location: ams, Holidays: "nl"})
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(filepath.Join(b.TempDir(), "sweep.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	tmpl, err := templates.Load("")
	if err != nil {
		b.Fatal(err)
	}
	timers := map[TimerName]calendar.Duration{}
	for name, s := range map[TimerName]string{TimerAcknowledge: "1wd", TimerAssess: "3wd", TimerResolve: "60d",
		TimerProgress: "10wd", TimerThirdParty: "3wd"} {
		timers[name], _ = calendar.ParseDuration(s)
	}
	sf := &sweepFixture{db: db, now: time.Date(2026, 11, 20, 16, 0, 0, 0, ams)}
	sf.e = New(db, Options{OrgName: "CloudSphere", OrgAddress: "security@example.test", CasePrefix: "CS",
		Languages: []string{"en", "nl"}, StaffAddresses: []string{"staff@example.test"},
		StaffNotify: []string{"staff@example.test"}, AcksPerSenderPerDay: 1 << 30, Calendar: cal, Timers: timers,
		RewardMin: 50, RewardMax: 1000, Currency: "EUR", RemindAt: []float64{0.5, 0.8},
		Now: func() time.Time { return sf.now }}, tmpl)

	far := sf.now.AddDate(1, 0, 0)
	for start := 0; start < n; start += 10_000 {
		err := db.Update(func(tx *store.Tx) error {
			for i := start; i < min(start+10_000, n); i++ {
				id, err := tx.NextCaseID("CS", 2026)
				if err != nil {
					return err
				}
				sf.ids = append(sf.ids, id)
				c := sf.caseAt(id)
				deadline(c, TimerResolve).Next = far
				if err := tx.PutCase(c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return sf
}

// caseAt is an acknowledged case 40 days into its 60-day resolve timer, so
// its 50 % reminder is due.
func (sf *sweepFixture) caseAt(id string) *store.Case {
	start := sf.now.AddDate(0, 0, -40)
	return &store.Case{ID: id, State: string(StateAcknowledged), Reporter: store.Address{Addr: "ada@example.org"},
		Subject: "XSS in login", ReceivedAt: start, Language: "en", Class: "human", UpdatedAt: start,
		Deadlines: map[string]*store.Deadline{
			string(TimerResolve): {Start: start, Due: sf.now.AddDate(0, 0, 20), Next: sf.now.Add(-time.Minute)},
		}}
}

// arm makes the first due cases due now (and leaves the rest as they are:
// a previous sweep moved their Next past now).
func (sf *sweepFixture) arm(b *testing.B, due int) {
	b.Helper()
	err := sf.db.Update(func(tx *store.Tx) error {
		for _, id := range sf.ids[:due] {
			if err := tx.PutCase(sf.caseAt(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIngest times Engine.Ingest of one IMAP-sized batch (200 new
// reports) in one transaction: parse, thread, open the case, render and
// queue the acknowledgment and staff notice, commit with fsync. bench/load
// uses it to explain the backlog-ingest figure.
func BenchmarkIngest(b *testing.B) {
	sf := newSweepFixture(b, 0)
	const batch = 200
	seq := 0
	b.ResetTimer()
	for range b.N {
		in := make([]Incoming, batch)
		for i := range in {
			seq++
			in[i] = Incoming{Raw: report("ada@example.org", fmt.Sprintf("XSS number %d", seq),
				fmt.Sprintf("r%d@example.org", seq), ""), ReceivedAt: sf.now}
		}
		if _, err := sf.e.Ingest(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/batch")
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkOverview times Engine.Overview (the weekly digest and the answer
// to #overview) over stores of different sizes with the same 1,000 open
// cases: it reads the active and tally indexes, so cases=100000/open=1000
// must cost about what cases=1000/open=1000 does. DISCLOSURED_BENCH_CASES
// replaces 100000, as for BenchmarkSweep.
func BenchmarkOverview(b *testing.B) {
	big := 100_000
	if s := os.Getenv("DISCLOSURED_BENCH_CASES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("DISCLOSURED_BENCH_CASES=%q: want a number of at least 1000", s)
		}
		big = n
	}
	const open = 1000
	for _, size := range []int{big, 1000} {
		sf := newSweepFixture(b, 0)
		closedAt := sf.now.AddDate(0, -2, 0)
		for start := 0; start < size; start += 10_000 {
			err := sf.db.Update(func(tx *store.Tx) error {
				for i := start; i < min(start+10_000, size); i++ {
					id, err := tx.NextCaseID("CS", 2026)
					if err != nil {
						return err
					}
					c := sf.caseAt(id)
					if i >= open {
						// Old history: closed long ago, timers met.
						c.State, c.UpdatedAt, c.ReceivedAt = string(StateClosed), closedAt, closedAt.AddDate(0, -1, 0)
						met := closedAt
						deadline(c, TimerResolve).MetAt, deadline(c, TimerResolve).Next = &met, time.Time{}
					}
					if err := tx.PutCase(c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		// Building the store left garbage behind; collect it so the big
		// store's run does not pay for it.
		runtime.GC()
		b.Run(fmt.Sprintf("cases=%d/open=%d", size, open), func(b *testing.B) {
			for range b.N {
				ov, err := sf.e.Overview(sf.now)
				if err != nil {
					b.Fatal(err)
				}
				if len(ov.Open) != open {
					b.Fatalf("overview lists %d open cases, want %d", len(ov.Open), open)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/overview")
		})
	}
}
