//go:build !race

package mailbox

// allocFactor scales allocation bounds in tests; see race_test.go.
const allocFactor = 1
