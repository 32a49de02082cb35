// Package calendar does the working-day arithmetic behind the policy's time
// promises. It wraps rickar/cal's business calendar with the organisation's
// time zone, working hours, working days, a country's public holidays and
// extra closed days.
//
// A duration "Nwd" is N working days of business time: the clock runs only
// inside working hours on working days, so with 09:00-17:00 hours "1wd" is
// eight working hours, and a report received Friday 16:00 is due Monday
// 16:00. A report received outside working hours starts the clock at the
// next opening. "Nd" is N calendar days at the same local wall-clock time,
// which stays correct across daylight-saving changes.
//
// A Calendar is safe for concurrent use: rickar/cal's holiday cache is not,
// so every call into it holds the Calendar's mutex.
package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/nl"
)

// Options describe the organisation's working time.
type Options struct {
	// Location is the organisation's time zone; nil means UTC.
	Location *time.Location
	// Open and Close are the working hours as offsets from midnight;
	// zero values mean 09:00-17:00.
	Open, Close time.Duration
	// Workdays are the working weekdays; nil means Monday to Friday.
	Workdays []time.Weekday
	// Holidays names a country's public holidays: "nl" or "none".
	Holidays string
	// GoodFriday counts Good Friday as a holiday (nl).
	GoodFriday bool
	// LiberationDay is "always", "lustrum" (every fifth year, as most
	// Dutch collective agreements have it) or "never" (nl).
	LiberationDay string
	// ClosedDays are extra dates (YYYY-MM-DD) the organisation is closed.
	ClosedDays []string
}

// Calendar adds durations on the organisation's calendar.
type Calendar struct {
	loc *time.Location
	mu  sync.Mutex // guards bc, whose holiday cache is not goroutine-safe
	bc  *cal.BusinessCalendar
	day time.Duration // business time in one working day
}

// New builds a calendar; it fails on a bad closed day or holiday set.
func New(o Options) (*Calendar, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Open == 0 && o.Close == 0 {
		o.Open, o.Close = 9*time.Hour, 17*time.Hour
	}
	if o.Close <= o.Open {
		return nil, fmt.Errorf("working hours: close %s is not after open %s", o.Close, o.Open)
	}
	bc := cal.NewBusinessCalendar()
	bc.SetWorkHours(o.Open, o.Close)
	if o.Workdays != nil {
		for d := time.Sunday; d <= time.Saturday; d++ {
			bc.SetWorkday(d, false)
		}
		for _, d := range o.Workdays {
			bc.SetWorkday(d, true)
		}
	}
	switch o.Holidays {
	case "", "none":
	case "nl":
		bc.AddHoliday(nl.Nieuwjaar, nl.TweedePaasdag, nl.Koningsdag, nl.Hemelvaart,
			nl.TweedePinksterDag, nl.EersteKerstdag, nl.TweedeKerstdag)
		if o.GoodFriday {
			bc.AddHoliday(nl.GoedeVrijdag)
		}
		switch o.LiberationDay {
		case "always":
			bc.AddHoliday(nl.BevrijdingsDag)
		case "", "lustrum":
			bc.AddHoliday(&cal.Holiday{Name: nl.BevrijdingsDag.Name, Month: time.May, Day: 5, Func: lustrum})
		case "never":
		default:
			return nil, fmt.Errorf("liberation day: want always, lustrum or never, got %q", o.LiberationDay)
		}
	default:
		return nil, fmt.Errorf("holidays: unknown set %q (want nl or none)", o.Holidays)
	}
	for _, s := range o.ClosedDays {
		d, err := time.ParseInLocation(time.DateOnly, s, o.Location)
		if err != nil {
			return nil, fmt.Errorf("closed day %q: want YYYY-MM-DD", s)
		}
		bc.AddHoliday(&cal.Holiday{Name: "closed", Month: d.Month(), Day: d.Day(),
			StartYear: d.Year(), EndYear: d.Year(), Func: cal.CalcDayOfMonth})
	}
	bc.Cacheable = true
	return &Calendar{loc: o.Location, bc: bc, day: o.Close - o.Open}, nil
}

// lustrum places Liberation Day only in years divisible by five.
func lustrum(h *cal.Holiday, year int) time.Time {
	if year%5 != 0 {
		return time.Time{}
	}
	return cal.CalcDayOfMonth(h, year)
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Duration is a span on the calendar: N working days or N calendar days.
type Duration struct {
	N       int
	Working bool
}

// ParseDuration reads "3wd" (working days) or "60d" (calendar days).
func ParseDuration(s string) (Duration, error) {
	working := strings.HasSuffix(s, "wd")
	num := strings.TrimSuffix(strings.TrimSuffix(s, "wd"), "d")
	if !working && !strings.HasSuffix(s, "d") {
		return Duration{}, fmt.Errorf("duration %q: want Nwd or Nd", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return Duration{}, fmt.Errorf("duration %q: want Nwd or Nd", s)
	}
	return Duration{N: n, Working: working}, nil
}

// String formats d as ParseDuration reads it.
func (d Duration) String() string {
	if d.Working {
		return strconv.Itoa(d.N) + "wd"
	}
	return strconv.Itoa(d.N) + "d"
}

// Add returns t + d on this calendar, in the calendar's time zone.
func (c *Calendar) Add(t time.Time, d Duration) time.Time {
	t = t.In(c.loc)
	if !d.Working {
		return t.AddDate(0, 0, d.N)
	}
	if d.N == 0 {
		return t
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bc.AddWorkHours(t, time.Duration(d.N)*c.day)
}

// AddBusiness returns t plus an amount of business time (working hours).
func (c *Calendar) AddBusiness(t time.Time, worked time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bc.AddWorkHours(t.In(c.loc), worked)
}

// Business returns the business time between two instants.
func (c *Calendar) Business(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bc.WorkHoursInRange(from.In(c.loc), to.In(c.loc))
}

// IsWorkday reports whether t's date (in the calendar's zone) is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bc.IsWorkday(t.In(c.loc))
}
