//go:build race

package e2e

// raceEnabled builds the daemon under test with -race when the tests run
// with it, so data races in the binary show up in its log.
const raceEnabled = true
