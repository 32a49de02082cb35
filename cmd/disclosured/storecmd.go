package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"disclosured/config"
	"disclosured/control"
	"disclosured/store"
	"disclosured/workflow"
)

// Store commands work on the store. While `run` holds it, the CLI forwards
// them to the daemon over the control socket and the daemon runs the same
// function against its open store; without a daemon the CLI opens the store
// itself. Either way the user sees the same output and exit code.

// session is what a store command runs against.
type session struct {
	cfg    *config.Config
	db     *store.DB
	engine *workflow.Engine // nil when the store is open read-only
	// files holds the files named on the command line, sent by a remote
	// client; nil when running locally.
	files map[string]control.File
	// open, when set, opens the store locally; commands call ready after
	// parsing their flags, so usage errors never touch the store.
	open func() error
}

// ready opens the store when running locally.
func (s *session) ready() error {
	if s.open == nil {
		return nil
	}
	open := s.open
	s.open = nil
	return open()
}

// readFile returns a named file's contents and modification time: sent
// along by the client when the command runs in the daemon, read from disk
// otherwise, so either way the same file gives the same result.
func (s *session) readFile(name string) ([]byte, time.Time, error) {
	if s.files != nil {
		f, ok := s.files[name]
		if !ok {
			return nil, time.Time{}, fmt.Errorf("%s: not sent by the client", name)
		}
		if f.ModTime.IsZero() {
			return f.Data, time.Now(), nil // a client that sent no time
		}
		return f.Data, f.ModTime, nil
	}
	return readLocal(name)
}

// readLocal reads a file and its modification time.
func readLocal(name string) ([]byte, time.Time, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, time.Time{}, err
	}
	st, err := os.Stat(name)
	if err != nil {
		return nil, time.Time{}, err
	}
	return b, st.ModTime(), nil
}

type storeCmd struct {
	run func(ctx context.Context, args []string, s *session, e env) error
	// write commands need the engine (and a writable store) locally.
	write bool
}

var storeCmds = map[string]storeCmd{
	"cases":  {run: casesCmd},
	"show":   {run: showCmd},
	"report": {run: reportCmd},
	"backup": {run: backupCmd},
	"import": {run: importCmd, write: true},
	"sweep":  {run: sweepCmd, write: true},
	"erase":  {run: eraseCmd, write: true},
	// advisory reads only, but drafts with the engine's options.
	"advisory": {run: advisoryCmd, write: true},
}

// exitStatus carries a daemon's exit code back through dispatch; the
// daemon already printed the message.
type exitStatus int

func (e exitStatus) Error() string { return "" }

// configFlag finds -c/--config in args without parsing the rest, which
// belongs to the command.
func configFlag(args []string) string {
	for i, a := range args {
		switch {
		case a == "-c" || a == "--config":
			if i+1 < len(args) {
				return args[i+1]
			}
		case strings.HasPrefix(a, "--config="):
			return strings.TrimPrefix(a, "--config=")
		case strings.HasPrefix(a, "-c") && len(a) > 2:
			return a[2:]
		}
	}
	return ""
}

// runStoreCmd runs a store command through the daemon, or locally when no
// daemon listens.
func runStoreCmd(ctx context.Context, name string, args []string, e env) error {
	sc := storeCmds[name]
	cfg, err := loadConfig(configFlag(args), e)
	if err != nil {
		return err
	}
	req := control.Request{Args: append([]string{name}, args...)}
	stdout := e.stdout
	var finish func(ok bool) error
	switch name {
	case "import":
		if req.Files, err = importFiles(args, e); err != nil {
			return err
		}
	case "backup":
		if stdout, finish, err = backupTarget(args, e); err != nil {
			return err
		}
	case "report":
		if stdout, finish, err = reportTarget(args, e); err != nil {
			return err
		}
	}
	code, err := control.Call(ctx, cfg.Control.Socket, req, stdout, e.stderr)
	if errors.Is(err, control.ErrNoDaemon) {
		err = runLocal(ctx, cfg, sc, args, stdout, e)
		code = 0
		if err != nil {
			code = 1
		}
	}
	if finish != nil {
		if ferr := finish(err == nil && code == 0); ferr != nil && err == nil {
			err = ferr
		}
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}

func runLocal(ctx context.Context, cfg *config.Config, sc storeCmd, args []string, stdout io.Writer, e env) error {
	s := &session{cfg: cfg}
	var closer func() error
	s.open = func() error {
		if sc.write {
			engine, db, err := openEngine(cfg, newLogger(cfg, io.Discard), workflow.Observer{})
			if err != nil {
				return err
			}
			s.db, s.engine, closer = db, engine, db.Close
			return nil
		}
		db, err := openStore(cfg, true)
		if err != nil {
			return err
		}
		s.db, closer = db, db.Close
		return nil
	}
	err := sc.run(ctx, args, s, env{stdout: stdout, stderr: e.stderr, environ: e.environ})
	if closer != nil {
		closer()
	}
	return err
}

// controlHandler runs forwarded store commands inside the daemon; cfg is
// read per request, so a reload applies from the next one.
func controlHandler(cfg func() *config.Config, engine *workflow.Engine, log *slog.Logger, onPanic func()) control.Handler {
	return func(ctx context.Context, req control.Request, stdout, stderr io.Writer) (code int) {
		defer func() {
			if r := recover(); r != nil {
				onPanic()
				fmt.Fprintf(stderr, "disclosured: internal error: %v\n", r)
				log.Error("control command panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				code = 1
			}
		}()
		if len(req.Args) == 0 {
			fmt.Fprintln(stderr, "disclosured: empty request")
			return 2
		}
		sc, ok := storeCmds[req.Args[0]]
		if !ok {
			fmt.Fprintf(stderr, "disclosured: %q cannot run through the control socket\n", req.Args[0])
			return 2
		}
		s := &session{cfg: cfg(), db: engine.DB(), engine: engine, files: map[string]control.File{}}
		for _, f := range req.Files {
			s.files[f.Name] = f
		}
		err := sc.run(ctx, req.Args[1:], s, env{stdout: stdout, stderr: stderr})
		return exitCode(err, stderr)
	}
}

// importFiles reads the files an import names, to send them to the daemon.
func importFiles(args []string, e env) ([]control.File, error) {
	fs, _ := newFlags("import", e)
	fs.String("received", "", "")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	var files []control.File
	for _, name := range fs.Args() {
		b, mtime, err := readLocal(name)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		files = append(files, control.File{Name: name, Data: b, ModTime: mtime})
	}
	return files, nil
}

// backupTarget opens a temporary file beside FILE for the backup stream;
// finish syncs and renames it on success and removes it otherwise.
func backupTarget(args []string, e env) (io.Writer, func(ok bool) error, error) {
	fs, _ := newFlags("backup", e)
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() != 1 {
		return nil, nil, usageError{"usage: disclosured backup FILE"}
	}
	dst := fs.Arg(0)
	f, err := os.CreateTemp(filepath.Dir(dst), ".backup-*")
	if err != nil {
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	finish := func(ok bool) error {
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if ok && err == nil {
			if err = os.Rename(f.Name(), dst); err == nil {
				fmt.Fprintln(e.stderr, "backup written to", dst)
				return nil
			}
		}
		os.Remove(f.Name())
		if ok {
			return fmt.Errorf("backup to %s: %w", dst, err)
		}
		return nil
	}
	return f, finish, nil
}

func eraseCmd(_ context.Context, args []string, s *session, e env) error {
	fs, _ := newFlags("erase", e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"usage: disclosured erase ID"}
	}
	if err := s.ready(); err != nil {
		return err
	}
	id := strings.ToUpper(fs.Arg(0))
	if err := s.engine.Erase(id, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: personal data erased; the store was compacted\n", id)
	return nil
}
