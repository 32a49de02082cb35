package main

import (
	"strings"
	"testing"
)

// TestSLABoundsAgree: the CLI's calendar add and the config accept and
// refuse the same durations (0wd, and more than calendar.MaxDays).
func TestSLABoundsAgree(t *testing.T) {
	ms := mailSystem(t)
	for _, tc := range []struct {
		dur string
		ok  bool
	}{{"0wd", false}, {"0d", false}, {"1wd", true}, {"36500wd", true}, {"36500d", true}, {"36501wd", false}, {"320256wd", false}} {
		cfg := writeConfig(t, ms, "sla:\n  resolve: "+tc.dur+"\n")
		_, stderr, code := cli(t, "check-config", "-c", cfg)
		if (code == 0) != tc.ok {
			t.Errorf("check-config with sla.resolve %s: exit %d, want ok %v: %s", tc.dur, code, tc.ok, stderr)
		}
		good := writeConfig(t, ms, "")
		out, stderr, code := cli(t, "calendar", "add", "-c", good, "2026-11-20T16:00:00+01:00", tc.dur)
		if (code == 0) != tc.ok {
			t.Errorf("calendar add %s: exit %d, want ok %v: %s%s", tc.dur, code, tc.ok, out, stderr)
		}
		if !tc.ok && strings.Contains(out, "2026-11-20T16:00:00+01:00") {
			t.Errorf("calendar add %s printed its input: %s", tc.dur, out)
		}
	}
}

// TestCalendarAddOnADSTWorkingDay: the example, through the CLI.
func TestCalendarAddOnADSTWorkingDay(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "sla:\n  working_days: [MON, tue, wed, thu, fri, sat, SUN]\n")
	out, stderr, code := cli(t, "calendar", "add", "-c", cfg, "2026-03-29T18:00:00+02:00", "1wd")
	if code != 0 || !strings.Contains(out, "2026-03-30T17:00:00+02:00") {
		t.Errorf("calendar add (exit %d): %s%s, want 2026-03-30T17:00:00+02:00", code, out, stderr)
	}
}
