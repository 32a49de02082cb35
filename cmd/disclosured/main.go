// Command disclosured runs a responsible-disclosure programme from a
// security mailbox. main stays thin: it picks the command, parses flags,
// turns SIGINT/SIGTERM into context cancellation and SIGHUP into a reload
// signal, and maps errors to exit codes (1 runtime, 2 usage or config).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError is a mistake in how the command was called (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// configError is a bad configuration (exit 2).
type configError struct{ err error }

func (e configError) Error() string { return "config: " + e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// env is what a command may touch of the outside world; tests pass their own.
type env struct {
	stdout, stderr io.Writer
	environ        []string
	// reload receives a value for every SIGHUP.
	reload <-chan os.Signal
}

const usage = `disclosured runs a responsible-disclosure programme from a security mailbox.

Usage: disclosured COMMAND [flags] [args]

Commands:
  run                       the daemon: IMAP intake, workflow, outbox
  dev                       a self-contained demo with in-process IMAP and SMTP servers
  check-config              validate the config and templates, print effective settings
  cases [--state S] [--json]
  show ID [--json]
  import [--received TIME] FILE...   ingest .eml or mbox files as if they came over IMAP
  sweep [--at TIME] [--dry-run]      run the timer jobs once, as if the time were TIME
  report [--from D --to D] [--json] [--png FILE]  SLA compliance per timer; --png writes the chart
  advisory ID [--csaf]      the case's advisory draft as text, or as a CSAF 2.0 document
  calendar add TIME DURATION         e.g. calendar add 2026-11-20T16:00:00+01:00 3wd
  backup FILE               write a consistent copy of the store (also while the daemon runs)
  erase ID                  remove a case's personal data, keep an anonymous tombstone
  pgp generate --name N --email A --out FILE   make an OpenPGP key, print its fingerprint
  securitytxt               print the RFC 9116 security.txt, clear-signed when a key is set
  version

Every command takes -c, --config FILE (default /etc/disclosured/config.yaml, then ./config.yaml).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	err := dispatch(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ(), reload: hup})
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st)
	}
	fmt.Fprintln(stderr, "disclosured:", err)
	var ue usageError
	var ce configError
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return 2
	}
	return 1
}

func dispatch(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, e)
	case "dev":
		return cmdDev(ctx, rest, e)
	case "check-config":
		return cmdCheckConfig(rest, e)
	case "cases", "show", "import", "sweep", "report", "backup", "erase", "advisory":
		return runStoreCmd(ctx, cmd, rest, e)
	case "calendar":
		return cmdCalendar(rest, e)
	case "pgp":
		return cmdPGP(rest, e)
	case "securitytxt":
		return cmdSecurityTxt(rest, e)
	case "version", "--version":
		fmt.Fprintln(e.stdout, "disclosured", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	fmt.Fprint(e.stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
