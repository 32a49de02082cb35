package chart

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// -out writes the sample chart to a file, to look at it.
var out = flag.String("out", "", "write the sample chart to this PNG file")

func sample() []Timer {
	r := rand.New(rand.NewPCG(1, 2))
	spread := func(n int, lo, hi time.Duration) []time.Duration {
		var ds []time.Duration
		for range n {
			ds = append(ds, lo+time.Duration(r.Int64N(int64(hi-lo))))
		}
		return ds
	}
	return []Timer{
		{Name: "acknowledge", Met: 41, Breached: 1, Took: spread(42, 2*time.Minute, 30*time.Hour), Limit: 24 * time.Hour},
		{Name: "assess", Met: 30, Breached: 6, Open: 4, Took: spread(36, 5*time.Hour, 110*time.Hour), Limit: 72 * time.Hour},
		{Name: "progress", Met: 18, Breached: 3, Open: 9, Took: spread(21, 3*24*time.Hour, 16*24*time.Hour), Limit: 14 * 24 * time.Hour},
		{Name: "resolve", Met: 12, Breached: 2, Open: 20, Took: spread(14, 4*24*time.Hour, 75*24*time.Hour), Limit: 60 * 24 * time.Hour},
		{Name: "third_party", Met: 0, Breached: 0},
	}
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != Width || got.Y != Height {
		t.Fatalf("size = %v, want %dx%d", got, Width, Height)
	}
	return img
}

// near reports whether c is within a small distance of want.
func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) int { v := int(x>>8) - int(y); return v * v }
	return d(r, want.R)+d(g, want.G)+d(b, want.B) < 300
}

func count(img image.Image, want color.RGBA) int {
	n := 0
	bb := img.Bounds()
	for y := bb.Min.Y; y < bb.Max.Y; y++ {
		for x := bb.Min.X; x < bb.Max.X; x++ {
			if near(img.At(x, y), want) {
				n++
			}
		}
	}
	return n
}

func TestPNG(t *testing.T) {
	var buf bytes.Buffer
	if err := PNG(&buf, "SLA November 2026", sample()); err != nil {
		t.Fatal(err)
	}
	if *out != "" {
		if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := decode(t, buf.Bytes())
	white := count(img, color.RGBA{R: 255, G: 255, B: 255})
	if white > Width*Height*97/100 {
		t.Errorf("the image is %d%% white: nothing was drawn", white*100/(Width*Height))
	}
	// The met and breached bars are there, met ones bigger (41 vs 1 ...).
	g, r := count(img, green), count(img, red)
	if g < 2000 || r < 200 || g < 3*r {
		t.Errorf("green %d px, red %d px: want visible met bars, smaller breached bars", g, r)
	}
	// Box plots fill their boxes.
	if n := count(img, color.RGBA{R: 0xc8, G: 0xd8, B: 0xee}); n < 1000 {
		t.Errorf("box fill %d px: no distribution drawn", n)
	}
	// Met bars are on the left half, the boxes on the right.
	left := image.Rect(0, 0, Width/2, Height)
	if n := count(img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(left), green); n < g*9/10 {
		t.Errorf("only %d of %d green px in the left half", n, g)
	}
}

// Nothing met and nothing breached still draws a valid, labelled chart
// (an empty month), and a single value per timer works.
func TestPNGDegenerate(t *testing.T) {
	tests := []struct {
		name   string
		timers []Timer
	}{
		{"empty month", []Timer{{Name: "acknowledge"}, {Name: "assess"}}},
		{"one value", []Timer{{Name: "acknowledge", Met: 1, Took: []time.Duration{0}}}},
		{"huge durations", []Timer{{Name: "resolve", Breached: 1, Met: 1, Took: []time.Duration{5 * 365 * 24 * time.Hour}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := PNG(&buf, "SLA", tt.timers); err != nil {
				t.Fatal(err)
			}
			decode(t, buf.Bytes())
		})
	}
	if err := PNG(&bytes.Buffer{}, "SLA", nil); err == nil {
		t.Error("no timers: no error")
	}
}
