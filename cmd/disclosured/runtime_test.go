package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestTuneRuntime(t *testing.T) {
	gc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(gc); debug.SetMemoryLimit(limit) })
	tests := []struct {
		environ   []string
		wantGC    int
		wantLimit int64
	}{
		{nil, defaultGCPercent, defaultMemoryLimit},
		{[]string{"GOGC=50", "HOME=/root"}, 100, defaultMemoryLimit},
		{[]string{"GOMEMLIMIT=1GiB"}, defaultGCPercent, math.MaxInt64},
		{[]string{"GOGCX=1", "GOGC=off", "GOMEMLIMIT=off"}, 100, math.MaxInt64},
	}
	for _, tt := range tests {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
		tuneRuntime(tt.environ)
		if gc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); gc != tt.wantGC || limit != tt.wantLimit {
			t.Errorf("environ %q: GOGC %d, limit %d; want %d, %d", tt.environ, gc, limit, tt.wantGC, tt.wantLimit)
		}
	}
}
