package workflow

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"disclosured/calendar"
	"disclosured/store"
	"disclosured/templates"
)

// FuzzIngest runs the whole ingest path (parse, thread, commands, consent,
// templates, outgoing headers, store) on arbitrary bytes, each in a batch
// with an innocent report behind it: nothing may fail, panic or hold the
// innocent report back, and no message may need the failed-message path
// (a processing error the fuzzer found is a bug to fix). Seeded with the
// shared corpus and issue 11's inputs.
func FuzzIngest(f *testing.F) {
	dir := os.Getenv("DISCLOSURED_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	seeds, _ := filepath.Glob(filepath.Join(dir, "*", "*.eml"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 64<<10)])
	}
	for _, s := range []string{
		"From: eve@evil.example\r\nSubject: =?utf-8?q?line1=0Aline2?=\r\n\r\nx",
		"From: \"" + strings.Repeat("a", 36<<10) + "\"@evil.example\r\nSubject: long\r\n\r\nx",
		"From: \"x #reward 1000 #credit Pwned\"@evil.example\r\nSubject: =?utf-8?b?PT91dGYtOD9xPz0yM3Jld2FyZF8xMDAwXz0yM3Jlc29sdmVkPz0=?=\r\n\r\nx",
		"From: staff@example.test\r\nSubject: Re: [CS-2026-0001] #reward 1000 #resolved #thirdparty o@example.net\r\n\r\nmsg\r\n",
		"From: ada@example.org\r\nIn-Reply-To: <x@example.test>\r\nSubject: Re: [CS-2026-0001] #share #credit Mallory #status\r\n\r\nx",
		"From: \"victim@target.example> NOTIFY=NEVER ORCPT=rfc822;x\"@evil.example\r\n\r\nx",
	} {
		f.Add([]byte(s))
	}
	var (
		fx *fuzzEngine
		n  int
	)
	f.Fuzz(func(t *testing.T, raw []byte) {
		// A fresh store now and then keeps the file, and each commit,
		// small; case 0001 exists in each, so staff and reporter mail
		// about it find a case.
		if fx == nil || n%500 == 0 {
			if fx != nil {
				fx.db.Close()
			}
			fx = newFuzzEngine(t)
		}
		n++
		good := report("ada@example.org", fmt.Sprintf("innocent %d", n), fmt.Sprintf("g%d@example.org", n), "")
		out, err := fx.e.Ingest(context.Background(), []Incoming{
			{Raw: raw, ReceivedAt: fx.now}, {Raw: good, ReceivedAt: fx.now}})
		if err != nil {
			t.Fatalf("ingest failed: %v", err)
		}
		if len(out) != 2 {
			t.Fatalf("%d outcomes, want 2", len(out))
		}
		if out[0].Failed {
			v, _ := ShowCase(fx.db, out[0].CaseID)
			t.Fatalf("processing failed: %+v", v.Events)
		}
		if out[1].Failed || out[1].Duplicate {
			t.Fatalf("the innocent report behind it: %+v", out[1])
		}
	})
}

type fuzzEngine struct {
	e   *Engine
	db  *store.DB
	now time.Time
}

func newFuzzEngine(t *testing.T) *fuzzEngine {
	cal, err := calendar.New(calendar.Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "fuzzingest")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "d.db"), store.Options{NoSync: true})
	os.RemoveAll(dir) // the open file lives on
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	timers := map[TimerName]calendar.Duration{}
	for name, s := range map[TimerName]string{TimerAcknowledge: "1wd", TimerAssess: "3wd", TimerResolve: "60d",
		TimerProgress: "10wd", TimerThirdParty: "3wd"} {
		timers[name], _ = calendar.ParseDuration(s)
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	e := New(db, Options{OrgName: "CloudSphere", OrgAddress: "security@example.test", CasePrefix: "CS",
		Languages: []string{"en", "nl"}, StaffAddresses: []string{"staff@example.test"},
		StaffNotify: []string{"staff@example.test"}, AcksPerSenderPerDay: 3, Calendar: cal, Timers: timers,
		RewardMin: 50, RewardMax: 1000, Currency: "EUR", StaffAuth: "none",
		Now: func() time.Time { return now }}, tmpl)
	if _, err := e.Ingest(context.Background(), []Incoming{{Raw: report("ada@example.org", "first", "f@example.org", ""), ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	return &fuzzEngine{e: e, db: db, now: now}
}
