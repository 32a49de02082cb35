package calendar

import (
	"strings"
	"testing"
	"time"
)

func TestAdd(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	nlDefault := Options{Location: ams, Holidays: "nl"}
	week := []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
	sevenDays := Options{Location: ams, Holidays: "nl", Workdays: week}
	allDay := Options{Location: ams, Holidays: "none", Workdays: week, Open: 0, Close: 24 * time.Hour}
	jer, err := time.LoadLocation("Asia/Jerusalem")
	if err != nil {
		t.Fatal(err)
	}
	israel := Options{Location: jer, Holidays: "none", Workdays: []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}}
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
		// Queen's Day before 2014, King's Day from 2014 (issue 13).
		{"queens day 2013", nlDefault, "2013-04-29T10:00:00+02:00", "1wd", "2013-05-01T10:00:00+02:00"},
		{"no kings day 2013", nlDefault, "2013-04-26T10:00:00+02:00", "1wd", "2013-04-29T10:00:00+02:00"},
		{"queens day 2012 monday", nlDefault, "2012-04-27T10:00:00+02:00", "1wd", "2012-05-01T10:00:00+02:00"},
		{"queens day on sunday 1978 moves to monday", nlDefault, "1978-04-28T10:00:00+02:00", "1wd", "1978-05-02T10:00:00+02:00"},
		{"queens day on sunday 2006 moves to saturday", sevenDays, "2006-04-28T10:00:00+02:00", "1wd", "2006-04-30T10:00:00+02:00"},
		{"no queens day before 1949", nlDefault, "1948-04-29T10:00:00+01:00", "1wd", "1948-04-30T10:00:00+01:00"},
		{"kings day 2014 on saturday", sevenDays, "2014-04-25T10:00:00+02:00", "1wd", "2014-04-27T10:00:00+02:00"},
		// Daylight saving on a working day: the hours are wall-clock hours.
		{"dst sunday evening, seven-day week", sevenDays, "2026-03-29T18:00:00+02:00", "1wd", "2026-03-30T17:00:00+02:00"},
		{"dst sunday morning, seven-day week", sevenDays, "2026-03-29T08:00:00+02:00", "1wd", "2026-03-29T17:00:00+02:00"},
		{"fall back sunday, seven-day week", sevenDays, "2026-10-25T09:00:00+01:00", "2wd", "2026-10-26T17:00:00+01:00"},
		{"dst friday in jerusalem", israel, "2026-03-26T12:00:00+02:00", "1wd", "2026-03-27T12:00:00+03:00"},
		{"round the clock, one day", allDay, "2026-11-20T10:00:00+01:00", "1wd", "2026-11-21T10:00:00+01:00"},
		{"round the clock from midnight", allDay, "2026-11-20T00:00:00+01:00", "1wd", "2026-11-21T00:00:00+01:00"},
		{"upper bound", nlDefault, "2026-11-20T10:00:00+01:00", "36500d", "2126-10-27T10:00:00+01:00"},
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
	for _, tc := range []struct{ in, err string }{
		{"", "want Nwd or Nd"}, {"3", "want Nwd or Nd"}, {"wd", "want Nwd or Nd"}, {"-1d", "want Nwd or Nd"},
		{"3h", "want Nwd or Nd"}, {"1.5wd", "want Nwd or Nd"}, {"+3wd", "want Nwd or Nd"},
		{"0wd", "N from 1 to 36500"}, {"0d", "N from 1 to 36500"},
		{"320256wd", `duration "320256wd": at most 36500 days`}, {"400000wd", "at most 36500 days"},
		{"36501d", "at most 36500 days"}, {"99999999999999999999wd", "want Nwd or Nd"},
	} {
		if _, err := ParseDuration(tc.in); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseDuration(%q) = %v, want an error with %q", tc.in, err, tc.err)
		}
	}
	for _, s := range []string{"1wd", "60d", "36500wd"} {
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

// TestWorkingTimeIsConsistent: Business measures what AddBusiness adds, on
// days with and without a daylight-saving change.
func TestWorkingTimeIsConsistent(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	week := []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
	for _, o := range []Options{{Location: ams, Holidays: "nl"}, {Location: ams, Holidays: "nl", Workdays: week},
		{Location: ams, Holidays: "none", Workdays: week, Close: 24 * time.Hour}} {
		c, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, from := range []time.Time{time.Date(2026, 3, 27, 15, 0, 0, 0, ams), time.Date(2026, 10, 24, 23, 0, 0, 0, ams)} {
			for _, worked := range []time.Duration{time.Hour, 8 * time.Hour, 30 * time.Hour, 100 * time.Hour} {
				to := c.AddBusiness(from, worked)
				if got := c.Business(from, to); got != worked {
					t.Errorf("%+v: Business(%s, AddBusiness(.., %s) = %s) = %s", o.Workdays, from, worked, to, got)
				}
			}
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for _, o := range []Options{{Open: 9 * time.Hour, Close: 25 * time.Hour}, {Open: 17 * time.Hour, Close: 9 * time.Hour},
		{Workdays: []time.Weekday{}}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}
