package calendar

import (
	"testing"
	"time"
)

func TestAdd(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	nlDefault := Options{Location: ams, Holidays: "nl"}
	withGoodFriday := Options{Location: ams, Holidays: "nl", GoodFriday: true}
	closedNYE := Options{Location: ams, Holidays: "nl", ClosedDays: []string{"2026-12-31"}}
	tests := []struct {
		name string
		opts Options
		from string
		dur  string
		want string
	}{
		{"friday afternoon 1wd", nlDefault, "2026-11-20T16:00:00+01:00", "1wd", "2026-11-23T16:00:00+01:00"},
		{"monday 3wd", nlDefault, "2026-11-23T10:00:00+01:00", "3wd", "2026-11-26T10:00:00+01:00"},
		{"friday afternoon 3wd", nlDefault, "2026-11-20T16:00:00+01:00", "3wd", "2026-11-25T16:00:00+01:00"},
		{"saturday starts monday", nlDefault, "2026-11-21T12:00:00+01:00", "1wd", "2026-11-23T17:00:00+01:00"},
		{"before hours", nlDefault, "2026-11-24T07:00:00+01:00", "1wd", "2026-11-24T17:00:00+01:00"},
		{"after hours", nlDefault, "2026-11-24T18:00:00+01:00", "1wd", "2026-11-25T17:00:00+01:00"},
		{"christmas", nlDefault, "2026-12-24T10:00:00+01:00", "1wd", "2026-12-28T10:00:00+01:00"},
		{"new year", nlDefault, "2026-12-31T12:00:00+01:00", "1wd", "2027-01-04T12:00:00+01:00"},
		{"easter monday", nlDefault, "2027-03-26T10:00:00+01:00", "1wd", "2027-03-30T10:00:00+02:00"},
		{"good friday is a working day by default", nlDefault, "2026-04-02T10:00:00+02:00", "1wd", "2026-04-03T10:00:00+02:00"},
		{"good friday when configured", withGoodFriday, "2026-04-02T10:00:00+02:00", "1wd", "2026-04-07T10:00:00+02:00"},
		{"kings day monday", nlDefault, "2026-04-24T10:00:00+02:00", "1wd", "2026-04-28T10:00:00+02:00"},
		{"kings day on sunday moves to saturday", nlDefault, "2025-04-25T10:00:00+02:00", "1wd", "2025-04-28T10:00:00+02:00"},
		{"ascension", nlDefault, "2026-05-13T12:00:00+02:00", "1wd", "2026-05-15T12:00:00+02:00"},
		{"whit monday", nlDefault, "2026-05-22T12:00:00+02:00", "1wd", "2026-05-26T12:00:00+02:00"},
		{"liberation day lustrum year", nlDefault, "2025-05-02T12:00:00+02:00", "1wd", "2025-05-06T12:00:00+02:00"},
		{"liberation day other year", nlDefault, "2026-05-04T12:00:00+02:00", "1wd", "2026-05-05T12:00:00+02:00"},
		{"spring forward", nlDefault, "2026-03-27T16:00:00+01:00", "1wd", "2026-03-30T16:00:00+02:00"},
		{"fall back", nlDefault, "2026-10-23T16:00:00+02:00", "1wd", "2026-10-26T16:00:00+01:00"},
		{"calendar days across dst", nlDefault, "2026-03-20T10:00:00+01:00", "60d", "2026-05-19T10:00:00+02:00"},
		{"closed day", closedNYE, "2026-12-30T12:00:00+01:00", "1wd", "2027-01-04T12:00:00+01:00"},
		{"leap day", nlDefault, "2028-02-28T10:00:00+01:00", "1wd", "2028-02-29T10:00:00+01:00"},
		{"leap year calendar days", nlDefault, "2028-02-28T10:00:00+01:00", "2d", "2028-03-01T10:00:00+01:00"},
		{"friday at closing", nlDefault, "2026-11-20T17:00:00+01:00", "1wd", "2026-11-23T17:00:00+01:00"},
		{"friday at opening", nlDefault, "2026-11-20T09:00:00+01:00", "1wd", "2026-11-20T17:00:00+01:00"},
		{"sunday night 3wd", nlDefault, "2026-11-22T23:00:00+01:00", "3wd", "2026-11-25T17:00:00+01:00"},
		{"christmas eve 2wd", nlDefault, "2026-12-24T12:00:00+01:00", "2wd", "2026-12-29T12:00:00+01:00"},
		{"60d across fall back", nlDefault, "2026-10-01T10:00:00+02:00", "60d", "2026-11-30T10:00:00+01:00"},
		{"kings day tuesday", nlDefault, "2027-04-26T12:00:00+02:00", "1wd", "2027-04-28T12:00:00+02:00"},
		{"ascension 2027", nlDefault, "2027-05-05T12:00:00+02:00", "1wd", "2027-05-07T12:00:00+02:00"},
		{"liberation day always", Options{Location: ams, Holidays: "nl", LiberationDay: "always"}, "2026-05-04T12:00:00+02:00", "1wd", "2026-05-06T12:00:00+02:00"},
		{"liberation day never", Options{Location: ams, Holidays: "nl", LiberationDay: "never"}, "2025-05-02T12:00:00+02:00", "1wd", "2025-05-05T12:00:00+02:00"},
		{"custom hours", Options{Location: ams, Holidays: "nl", Open: 8*time.Hour + 30*time.Minute, Close: 17*time.Hour + 30*time.Minute}, "2026-11-20T16:30:00+01:00", "1wd", "2026-11-23T16:30:00+01:00"},
		{"four-day week", Options{Location: ams, Holidays: "nl", Workdays: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday}}, "2026-11-19T16:00:00+01:00", "1wd", "2026-11-23T16:00:00+01:00"},
		{"no holidays", Options{Location: ams, Holidays: "none"}, "2026-12-24T10:00:00+01:00", "1wd", "2026-12-25T10:00:00+01:00"},
		{"utc input converted", nlDefault, "2026-11-20T15:00:00Z", "1wd", "2026-11-23T16:00:00+01:00"},
		{"zero", nlDefault, "2026-11-21T12:00:00+01:00", "0wd", "2026-11-21T12:00:00+01:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			from, _ := time.Parse(time.RFC3339, tt.from)
			d, err := ParseDuration(tt.dur)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Add(from, d).Format(time.RFC3339)
			if got != tt.want {
				t.Errorf("%s + %s = %s, want %s", tt.from, tt.dur, got, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for _, s := range []string{"", "3", "wd", "-1d", "3h", "1.5wd"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want error", s)
		}
	}
	for _, s := range []string{"1wd", "60d", "0wd"} {
		d, err := ParseDuration(s)
		if err != nil || d.String() != s {
			t.Errorf("ParseDuration(%q) = %v, %v", s, d, err)
		}
	}
}

// TestConcurrentUse: the holiday cache is shared; -race checks the lock.
func TestConcurrentUse(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	c, err := New(Options{Location: ams, Holidays: "nl"})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 24, 10, 0, 0, 0, ams)
	want := c.Add(from, Duration{N: 3, Working: true})
	done := make(chan time.Time)
	for range 8 {
		go func() { done <- c.Add(from, Duration{N: 3, Working: true}) }()
	}
	for range 8 {
		if got := <-done; !got.Equal(want) {
			t.Errorf("concurrent Add = %s, want %s", got, want)
		}
	}
}
