//go:build race

package mailbox

// allocFactor scales allocation bounds in tests: the race detector's
// instrumentation keeps the compiler from fusing bytes.Buffer's
// append(nil, make(...)...) into one allocation, so every growth allocates
// twice.
const allocFactor = 2
