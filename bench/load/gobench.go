package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// goBenchPattern selects the in-process benchmarks bench/load reports.
const goBenchPattern = "^(BenchmarkParseCorpus|BenchmarkMIMEWalkCorpus|BenchmarkCreateCase|BenchmarkAppendEvent|BenchmarkBoltPut|BenchmarkSweep|BenchmarkIngest|BenchmarkOverview)$"

// goBenchResults maps a benchmark name without its -GOMAXPROCS suffix
// ("BenchmarkSweep/cases=100000/due=100") to its metrics by unit
// ("ns/op", "MB/s", "allocs/op", "cases/s", ...).
type goBenchResults map[string]map[string]float64

// runGoBench runs the Go benchmarks of parser, store, workflow and this
// package in one `go test` with -p 1, so no two packages' benchmarks run at
// the same time. sweepCases, if not 0, shrinks BenchmarkSweep's store.
func runGoBench(root, benchtime string, sweepCases int) (goBenchResults, string, error) {
	args := []string{"test", "-p", "1", "-count", "1", "-run", "^$", "-bench", goBenchPattern,
		"-benchmem", "-benchtime", benchtime, "-timeout", "15m",
		"./parser", "./store", "./workflow", "./bench/load"}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if sweepCases > 0 {
		cmd.Env = append(cmd.Env, "DISCLOSURED_BENCH_CASES="+strconv.Itoa(sweepCases))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, string(out), fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, lastLines(string(out), 30))
	}
	return parseGoBench(out), string(out), nil
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseGoBench reads the "BenchmarkName-N  iters  value unit  value unit"
// lines of go test -bench output.
func parseGoBench(out []byte) goBenchResults {
	res := goBenchResults{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		res[name] = m
	}
	return res
}

// corpusDirFor returns the corpus the parser benchmark reads, as
// parser/corpus_test.go finds it: DISCLOSURED_CORPUS, else shared/corpus
// next to the repository.
func corpusDirFor(root string) string {
	if d := os.Getenv("DISCLOSURED_CORPUS"); d != "" {
		return d
	}
	return filepath.Join(root, "..", "shared", "corpus")
}

// corpusFiles lists the paths in dir's MANIFEST.tsv (first column, after
// the header line).
func corpusFiles(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		return nil, err
	}
	var out []string
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 2 || f[0] == "" {
			continue
		}
		out = append(out, filepath.Join(dir, f[0]))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty corpus manifest in %s", dir)
	}
	return out, nil
}
