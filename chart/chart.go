// Package chart draws the monthly SLA report as one PNG image that reads at
// a glance in a mail client: on the left, per timer, how many deadlines were
// met (green) and breached (red), with the counts written on the bars; on
// the right, per timer, the distribution of the time it took to meet a
// deadline, as box plots on a logarithmic time axis (minutes to months fit
// one axis) with the policy's limit drawn as a dashed line when known.
//
// It draws with gonum.org/v1/plot and imports no other disclosured package.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Timer is one timer's numbers for the period.
type Timer struct {
	Name     string
	Met      int
	Breached int
	Open     int
	// Took is the time from start to met of every met deadline.
	Took []time.Duration
	// Limit is the timer's nominal duration, drawn as a reference line;
	// zero leaves it out.
	Limit time.Duration
}

// Size of the image in pixels.
const (
	Width  = 1200
	Height = 520
	dpi    = 96
)

var (
	green = color.RGBA{R: 0x2e, G: 0x8b, B: 0x57, A: 0xff}
	red   = color.RGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}
	blue  = color.RGBA{R: 0x4a, G: 0x78, B: 0xb5, A: 0xff}
	grey  = color.RGBA{R: 0x60, G: 0x60, B: 0x60, A: 0xff}
)

// The time axis ticks, in hours.
var ticks = []struct {
	h     float64
	label string
}{
	{1.0 / 60, "1 min"}, {10.0 / 60, "10 min"}, {1, "1 h"}, {4, "4 h"}, {24, "1 day"},
	{72, "3 days"}, {168, "1 week"}, {720, "30 days"}, {2160, "90 days"}, {8760, "1 year"},
}

// PNG writes the chart for timers, titled title, as a PNG image.
func PNG(w io.Writer, title string, timers []Timer) (err error) {
	if len(timers) == 0 {
		return errors.New("chart: no timers")
	}
	// gonum/plot panics on some degenerate input (a log axis over zero);
	// a report must not take the daemon down with it.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chart: %v", r)
		}
	}()
	bars, err := barPlot(title, timers)
	if err != nil {
		return err
	}
	boxes, err := boxPlot(timers)
	if err != nil {
		return err
	}
	img := vgimg.NewWith(vgimg.UseWH(Width*vg.Inch/dpi, Height*vg.Inch/dpi), vgimg.UseDPI(dpi),
		vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 3,
		PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 4}
	plots := [][]*plot.Plot{{bars, boxes}}
	canvases := plot.Align(plots, tiles, dc)
	bars.Draw(canvases[0][0])
	boxes.Draw(canvases[0][1])
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return fmt.Errorf("chart: encode png: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func names(timers []Timer) []string {
	out := make([]string, len(timers))
	for i, t := range timers {
		out[i] = t.Name
	}
	return out
}

func style(p *plot.Plot) {
	p.Title.TextStyle.Font.Size = vg.Points(15)
	p.X.Tick.Label.Font.Size = vg.Points(12)
	p.Y.Tick.Label.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(12)
	p.Legend.TextStyle.Font.Size = vg.Points(12)
	p.Legend.Top = true
	p.Legend.Left = false
}

func barPlot(title string, timers []Timer) (*plot.Plot, error) {
	p := plot.New()
	style(p)
	p.Title.Text = title + " - deadlines met and breached"
	p.Y.Label.Text = "deadlines"
	met, breached := make(plotter.Values, len(timers)), make(plotter.Values, len(timers))
	var labels plotter.XYLabels
	most := 0
	for i, t := range timers {
		met[i], breached[i] = float64(t.Met), float64(t.Breached)
		most = max(most, t.Met, t.Breached)
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(i) - 0.18, Y: float64(t.Met)},
			plotter.XY{X: float64(i) + 0.18, Y: float64(t.Breached)})
		labels.Labels = append(labels.Labels, fmt.Sprint(t.Met), fmt.Sprint(t.Breached))
	}
	width := vg.Points(26)
	mb, err := plotter.NewBarChart(met, width)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	mb.Color, mb.LineStyle.Width, mb.XMin = green, 0, -0.18
	bb, err := plotter.NewBarChart(breached, width)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	bb.Color, bb.LineStyle.Width, bb.XMin = red, 0, 0.18
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = draw.XCenter
		lab.TextStyle[i].YAlign = draw.YBottom
		lab.TextStyle[i].Font.Size = vg.Points(12)
	}
	p.Add(mb, bb, lab)
	p.Legend.Add("met", mb)
	p.Legend.Add("breached", bb)
	p.NominalX(names(timers)...)
	p.Y.Min = 0
	// Room above the tallest bar for its count and the legend.
	p.Y.Max = math.Max(1, float64(most)) * 1.3
	p.Y.Tick.Marker = integerTicks{}
	return p, nil
}

// integerTicks marks whole numbers only: half a deadline means nothing.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	// A round step (1, 2, 5, 10, 20, ...) giving at most about 8 marks.
	step := 1.0
	for i := 0; (hi-lo)/step > 8; i++ {
		step *= []float64{2, 2.5, 2}[i%3]
	}
	var out []plot.Tick
	for v := math.Ceil(lo); v <= hi; v += step {
		out = append(out, plot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	return out
}

func boxPlot(timers []Timer) (*plot.Plot, error) {
	p := plot.New()
	style(p)
	p.Title.Text = "time to meet (median, quartiles, range)"
	p.Y.Label.Text = "time taken"
	lo, hi := math.Inf(1), math.Inf(-1)
	hours := func(d time.Duration) float64 { return math.Max(d.Hours(), ticks[0].h) }
	for i, t := range timers {
		if t.Limit > 0 {
			h := hours(t.Limit)
			lo, hi = math.Min(lo, h), math.Max(hi, h)
			ref, err := plotter.NewLine(plotter.XYs{{X: float64(i) - 0.35, Y: h}, {X: float64(i) + 0.35, Y: h}})
			if err != nil {
				return nil, fmt.Errorf("chart: %w", err)
			}
			ref.Color, ref.Width, ref.Dashes = red, vg.Points(1.5), []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(ref)
			if i == 0 || timers[i-1].Limit == 0 {
				p.Legend.Add("limit", ref)
			}
		}
		if len(t.Took) == 0 {
			continue
		}
		vals := make(plotter.Values, len(t.Took))
		for j, d := range t.Took {
			vals[j] = hours(d)
			lo, hi = math.Min(lo, vals[j]), math.Max(hi, vals[j])
		}
		b, err := plotter.NewBoxPlot(vg.Points(34), float64(i), vals)
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		b.FillColor = color.RGBA{R: 0xc8, G: 0xd8, B: 0xee, A: 0xff}
		b.BoxStyle.Color, b.WhiskerStyle.Color = blue, blue
		b.MedianStyle.Color, b.MedianStyle.Width = grey, vg.Points(2.5)
		p.Add(b)
	}
	p.NominalX(names(timers)...)
	if math.IsInf(lo, 1) {
		lo, hi = 1, 24 // nothing met: an empty, still valid axis
	}
	p.Y.Scale = plot.LogScale{}
	var marks plot.ConstantTicks
	p.Y.Min, p.Y.Max = ticks[0].h, ticks[len(ticks)-1].h
	for _, tk := range ticks {
		if tk.h <= lo {
			p.Y.Min = tk.h
		}
	}
	for i := len(ticks) - 1; i >= 0; i-- {
		if ticks[i].h >= hi*1.5 {
			p.Y.Max = ticks[i].h
		}
	}
	for _, tk := range ticks {
		if tk.h >= p.Y.Min && tk.h <= p.Y.Max {
			marks = append(marks, plot.Tick{Value: tk.h, Label: tk.label})
		}
	}
	p.Y.Tick.Marker = marks
	p.X.Min, p.X.Max = -0.6, float64(len(timers))-0.4
	return p, nil
}
