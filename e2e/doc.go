// Package e2e holds the end-to-end tests: they build the disclosured binary
// and run it against a real Postfix + Dovecot on loopback (the "mailstack",
// scripts in e2e/mailstack). Only test files live here besides this one.
//
// CI starts one stack before `go test` and exports its MAILSTACK_* variables
// (see .ci/run); otherwise the tests start a private stack on free ports,
// once per test binary, and skip when that is impossible and CI is unset.
// The stack's mailboxes are shared by all tests in the binary, so each test
// empties the mailboxes it asserts on and marks its mail uniquely.
package e2e
