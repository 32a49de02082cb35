package calendar

import "time"

// WorkdaysFrom returns the date n working days after t (before it when n
// is negative), at t's time of day, in the calendar's zone.
func (c *Calendar) WorkdaysFrom(t time.Time, n int) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bc.WorkdaysFrom(t.In(c.loc), n)
}

// DayStart returns when working hours begin on t's date, in the
// calendar's zone; for a day that is not a working day, the time they
// would begin.
func (c *Calendar) DayStart(t time.Time) time.Time {
	t = t.In(c.loc)
	y, m, d := t.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, c.loc)
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.bc.NextWorkdayStart(midnight)
	if start := c.bc.WorkdayStart(midnight); !start.IsZero() {
		next = start
	}
	if next.IsZero() {
		return midnight
	}
	return time.Date(y, m, d, next.Hour(), next.Minute(), 0, 0, c.loc)
}
