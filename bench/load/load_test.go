package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the whole harness at tiny sizes so `make test` notices
// when it rots: every part must complete and print every row. It always
// starts a private mail stack, because the e2e tests may be using the
// shared one in parallel and the harness empties every INBOX. Without root
// (start.sh needs it) it skips, except in CI where it must run.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run the benchmark smoke test as root (e2e/mailstack/start.sh needs it)")
		}
		t.Skip("not root: cannot start a private mail stack")
	}
	var prog bytes.Buffer
	progress = &prog
	t.Cleanup(func() { progress = os.Stderr })
	cfg := config{latencyN: 5, backlogN: 20, cases: 2000, attachMiB: 1, sweepCases: 2000,
		benchtime: "1x", stackMode: "private", parts: "all", root: root}
	var out bytes.Buffer
	start := time.Now()
	err = run(context.Background(), cfg, &out)
	t.Logf("harness took %v; progress:\n%s\ntable:\n%s", time.Since(start).Round(time.Second), prog.String(), out.String())
	if errors.Is(err, errNoStack) {
		if os.Getenv("CI") != "" {
			t.Fatalf("mail stack: %v", err)
		}
		t.Skipf("mail stack not available: %v", err)
	}
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	table := out.String()
	for _, id := range allRowIDs() {
		if !strings.Contains(table, "\n| "+id+" | ") {
			t.Errorf("table lacks row %s", id)
		}
	}
	// The corpus may be missing outside CI; the parser rows then say so.
	if strings.Contains(table, "FAILED") {
		t.Errorf("a part failed:\n%s", table)
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 200)
	for i := range ds {
		ds[i] = time.Duration(200-i) * time.Millisecond // 1..200 ms, reversed
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 100 * time.Millisecond}, {95, 190 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestParseGoBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkSweep/cases=100000/due=100-2   	      91	  22328922 ns/op	        22.33 ms/sweep	 1234 B/op	 56 allocs/op
BenchmarkParseCorpus-2   	     100	  10234567 ns/op	 350.12 MB/s
PASS
`)
	res := parseGoBench(out)
	if v := res["BenchmarkSweep/cases=100000/due=100"]["ms/sweep"]; v != 22.33 {
		t.Errorf("ms/sweep = %v", v)
	}
	if v := res["BenchmarkParseCorpus"]["MB/s"]; v != 350.12 {
		t.Errorf("MB/s = %v", v)
	}
}
