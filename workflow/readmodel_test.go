package workflow

import "testing"

func TestReadModel(t *testing.T) {
	f := newFixture(t)
	if _, ok := OldestPending(f.db); ok {
		t.Fatal("pending mail in an empty store")
	}
	f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", ""))
	if at, ok := OldestPending(f.db); !ok || !at.Equal(f.now) {
		t.Errorf("oldest pending %s %v, want %s", at, ok, f.now)
	}
	if pending, failed, err := OutboxCounts(f.db); err != nil || pending != 2 || failed != 0 {
		t.Errorf("outbox %d pending, %d failed, %v; want the ack and the new-report notice", pending, failed, err)
	}
	if by, err := CasesByState(f.db); err != nil || by[string(StateAcknowledged)] != 1 {
		t.Errorf("cases by state %v, %v", by, err)
	}
	if due, breached, err := TimerCounts(f.db, f.now.AddDate(1, 0, 0)); err != nil || due == 0 || breached != 0 {
		t.Errorf("timers due in a year %d, breached %d, %v", due, breached, err)
	}
	f.flush(t)
	if _, ok := OldestPending(f.db); ok {
		t.Error("pending mail after everything was sent")
	}
}
