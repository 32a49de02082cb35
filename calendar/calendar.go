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
// which stays correct across daylight-saving changes. N is 1 to MaxDays.
//
// Working hours are wall-clock times, computed for each day with time.Date
// in the calendar's zone, so a day on which daylight saving changes opens
// and closes at the same clock times as any other; only rickar/cal's
// holiday and weekday rules are used (its own arithmetic counts offsets
// from midnight and loses or gains the hour). Closing at 24:00 means the
// next midnight.
//
// The Dutch holidays hold from 1949: Queen's Day on 30 April until 2013
// (on 1 May before 1980 and on 29 April from 1980 when the 30th is a
// Sunday), King's Day on 27 April from 2014 (26 April when a Sunday).
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

// MaxDays bounds N in Nwd and Nd: a hundred years, far beyond any policy,
// and far below the ~292 years of working time a time.Duration holds.
const MaxDays = 36500

// Calendar adds durations on the organisation's calendar.
type Calendar struct {
	loc         *time.Location
	mu          sync.Mutex // guards bc, whose holiday cache is not goroutine-safe
	bc          *cal.BusinessCalendar
	open, close time.Duration // wall-clock offsets of the working hours
	day         time.Duration // business time in one working day
	// days caches the working hours of each local date looked at, keyed
	// by year*1000+day of year; guarded by mu.
	days map[int]dayHours
}

// dayHours are one local date's working hours; work is false on a day off.
type dayHours struct {
	open, close time.Time
	work        bool
}

// New builds a calendar; it fails on a bad closed day or holiday set.
func New(o Options) (*Calendar, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Open == 0 && o.Close == 0 {
		o.Open, o.Close = 9*time.Hour, 17*time.Hour
	}
	if o.Close <= o.Open || o.Open < 0 || o.Close > 24*time.Hour {
		return nil, fmt.Errorf("working hours: want 00:00 <= open < close <= 24:00, got %s-%s", o.Open, o.Close)
	}
	if o.Workdays != nil && len(o.Workdays) == 0 {
		return nil, fmt.Errorf("working days: want at least one")
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
		bc.AddHoliday(nl.Nieuwjaar, nl.TweedePaasdag, queensDay, kingsDay, nl.Hemelvaart,
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
	return &Calendar{loc: o.Location, bc: bc, open: o.Open, close: o.Close, day: o.Close - o.Open,
		days: map[int]dayHours{}}, nil
}

// kingsDay is nl.Koningsdag from its first year.
var kingsDay = nl.Koningsdag.Clone(&cal.Holiday{StartYear: 2014})

// queensDay is Koninginnedag, 1949-2013: 30 April, moved off a Sunday to
// 1 May until 1979 and to 29 April from 1980.
var queensDay = &cal.Holiday{Name: "Koninginnedag", Month: time.April, Day: 30, StartYear: 1949, EndYear: 2013,
	Func: func(h *cal.Holiday, year int) time.Time {
		d := cal.CalcDayOfMonth(h, year)
		if d.Weekday() == time.Sunday {
			if year < 1980 {
				return d.AddDate(0, 0, 1)
			}
			return d.AddDate(0, 0, -1)
		}
		return d
	}}

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

// ParseDuration reads "3wd" (working days) or "60d" (calendar days), N
// from 1 to MaxDays.
func ParseDuration(s string) (Duration, error) {
	working := strings.HasSuffix(s, "wd")
	num := strings.TrimSuffix(strings.TrimSuffix(s, "wd"), "d")
	if !working && !strings.HasSuffix(s, "d") {
		return Duration{}, fmt.Errorf("duration %q: want Nwd or Nd", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || strings.TrimLeft(num, "0123456789") != "" {
		return Duration{}, fmt.Errorf("duration %q: want Nwd or Nd with N from 1 to %d", s, MaxDays)
	}
	if n > MaxDays {
		return Duration{}, fmt.Errorf("duration %q: at most %d days", s, MaxDays)
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
	if d.N <= 0 {
		return t
	}
	return c.AddBusiness(t, time.Duration(min(d.N, MaxDays))*c.day)
}

// maxWalk bounds the days AddBusiness walks, so a calendar whose holidays
// cover every working day cannot loop for ever.
const maxWalk = 2 * MaxDays

// hours returns the working hours of t's local date, or ok false when
// that date is not a working day.
// Call it with mu held.
func (c *Calendar) hours(t time.Time) (open, close time.Time, ok bool) {
	key := t.Year()*1000 + t.YearDay()
	if h, ok := c.days[key]; ok {
		return h.open, h.close, h.work
	}
	y, m, d := t.Date()
	var h dayHours
	if c.bc.IsWorkday(time.Date(y, m, d, 12, 0, 0, 0, c.loc)) {
		at := func(off time.Duration) time.Time {
			return time.Date(y, m, d, int(off/time.Hour), int(off%time.Hour/time.Minute), int(off%time.Minute/time.Second), 0, c.loc)
		}
		h = dayHours{open: at(c.open), close: at(c.close), work: true}
	}
	if len(c.days) < maxCachedDays {
		c.days[key] = h
	}
	return h.open, h.close, h.work
}

// maxCachedDays bounds the cache: some two hundred years of dates.
const maxCachedDays = 75000

// nextDay is local midnight after t's date.
func (c *Calendar) nextDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, c.loc)
}

// AddBusiness returns t plus an amount of business time (working hours).
// Outside working hours the clock starts at the next opening; an amount
// that ends exactly at a closing ends there.
func (c *Calendar) AddBusiness(t time.Time, worked time.Duration) time.Time {
	t = t.In(c.loc)
	if worked <= 0 {
		return t
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for range maxWalk {
		if open, closing, ok := c.hours(t); ok {
			if t.Before(open) {
				t = open
			}
			if t.Before(closing) {
				left := closing.Sub(t)
				if worked <= left {
					return t.Add(worked)
				}
				worked -= left
			}
		}
		t = c.nextDay(t)
	}
	return t
}

// Business returns the business time between two instants.
func (c *Calendar) Business(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	from, to = from.In(c.loc), to.In(c.loc)
	c.mu.Lock()
	defer c.mu.Unlock()
	var sum time.Duration
	for t := from; t.Before(to); t = c.nextDay(t) {
		open, closing, ok := c.hours(t)
		if !ok {
			continue
		}
		a, b := open, closing
		if a.Before(from) {
			a = from
		}
		if to.Before(b) {
			b = to
		}
		if b.After(a) {
			sum += b.Sub(a)
		}
	}
	return sum
}

// IsWorkday reports whether t's date (in the calendar's zone) is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bc.IsWorkday(t.In(c.loc))
}
