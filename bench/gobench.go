package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// goBenchPackages hold the Go benchmarks of the pure hot paths.
var goBenchPackages = []string{"./shared/experiences/", "./shared/firestoreevent/"}

// GoBenchLine is one `go test -bench` result line: as printed, and its
// metrics by unit (ns/op, B/op, allocs/op, and any the benchmark reports).
type GoBenchLine struct {
	Package    string             `json:"package"`
	Name       string             `json:"name"`
	Iterations int64              `json:"iterations"`
	Metrics    map[string]float64 `json:"metrics"`
	Line       string             `json:"line"`
}

func parseBenchLine(pkg, line string) (GoBenchLine, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return GoBenchLine{}, false
	}
	b := GoBenchLine{Package: pkg, Name: f[0], Metrics: map[string]float64{}, Line: strings.Join(f, " ")}
	var err error
	if b.Iterations, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return GoBenchLine{}, false
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return GoBenchLine{}, false
		}
		b.Metrics[f[i+1]] = v
	}
	return b, true
}

// runGoBench runs the packages' benchmarks with allocations and returns
// their result lines. No test runs (-run '^$'), so no emulator is needed.
func runGoBench(ctx context.Context, root, benchtime string) ([]GoBenchLine, error) {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "-benchtime", benchtime}, goBenchPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	var lines []GoBenchLine
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(line, "pkg: ")
		case strings.HasPrefix(line, "Benchmark"):
			if b, ok := parseBenchLine(pkg, line); ok {
				lines = append(lines, b)
			}
		}
	}
	return lines, sc.Err()
}
