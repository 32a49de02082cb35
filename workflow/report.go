package workflow

import (
	"sort"
	"time"

	"disclosured/store"
)

// TimerReport is the SLA compliance of one timer over a set of cases.
type TimerReport struct {
	Timer    string `json:"timer"`
	Met      int    `json:"met"`
	Breached int    `json:"breached"`
	Open     int    `json:"open"`
	// Median and Worst are the time from start to met, over met deadlines.
	// A deadline met late counts as breached.
	Median time.Duration `json:"median_ns"`
	Worst  time.Duration `json:"worst_ns"`
	// MedianText and WorstText are the same, for people.
	MedianText string `json:"median"`
	WorstText  string `json:"worst"`
	// Took is the time from start to met of every met deadline, shortest
	// first, for the chart.
	Took []time.Duration `json:"-"`
}

// Report computes per-timer compliance over cases received in [from, to);
// zero bounds are open.
func Report(db *store.DB, from, to time.Time) ([]TimerReport, error) {
	took := map[string][]time.Duration{}
	out := make([]TimerReport, len(Timers))
	idx := map[string]int{}
	for i, n := range Timers {
		out[i].Timer, idx[string(n)] = string(n), i
	}
	err := db.View(func(tx *store.Tx) error {
		cases, err := tx.Cases()
		if err != nil {
			return err
		}
		for _, c := range cases {
			if (!from.IsZero() && c.ReceivedAt.Before(from)) || (!to.IsZero() && !c.ReceivedAt.Before(to)) {
				continue
			}
			for name, d := range c.Deadlines {
				i, ok := idx[name]
				if !ok {
					continue
				}
				// A deadline met after it was due counts as breached
				// too, even when no sweep saw it pass (the daemon was down).
				late := d.MetAt != nil && d.MetAt.After(d.Due)
				switch {
				case d.Breached || late:
					out[i].Breached++
				case d.MetAt != nil:
					out[i].Met++
				default:
					out[i].Open++
				}
				if d.MetAt != nil {
					took[name] = append(took[name], d.MetAt.Sub(d.Start))
				}
			}
		}
		return nil
	})
	for i := range out {
		ds := took[out[i].Timer]
		if len(ds) == 0 {
			out[i].MedianText, out[i].WorstText = "-", "-"
			continue
		}
		sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
		out[i].Took = ds
		out[i].Median, out[i].Worst = ds[len(ds)/2], ds[len(ds)-1]
		out[i].MedianText, out[i].WorstText = out[i].Median.Round(time.Second).String(), out[i].Worst.Round(time.Second).String()
	}
	return out, err
}
