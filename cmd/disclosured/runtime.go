package main

import (
	"runtime/debug"
	"slices"
	"strings"
)

// The daemon's live heap is a few MiB, but ingesting allocates briskly:
// with Go's default GOGC=100 the collector ran at every few MiB allocated
// and took about a quarter of ingest's CPU. A higher GOGC collects less
// often (BenchmarkIngest: 85 → 64 ms per batch of 200), and the soft memory
// limit makes the collector work harder instead of letting the heap grow to
// several times a large message.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 64 << 20
)

// tuneRuntime applies the defaults above unless GOGC or GOMEMLIMIT is set in
// environ, where the runtime has already read it.
func tuneRuntime(environ []string) {
	set := func(name string) bool {
		return slices.ContainsFunc(environ, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
	}
	if !set("GOGC") {
		debug.SetGCPercent(defaultGCPercent)
	}
	if !set("GOMEMLIMIT") {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
