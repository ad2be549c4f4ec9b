package emulatortest

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// tail keeps the end of the stack's log when EMULATOR_LOGS is not set: the
// last lines, and apart from them the last notable ones (warnings, errors,
// a Java exception's head), so a package that fails in CI shows what the
// emulators and the functions said, and a passing one prints nothing.
type tail struct {
	mu      sync.Mutex
	partial []byte
	// cut says partial reached tailLineSize: the rest of its line is
	// dropped.
	cut     bool
	last    ring
	notable ring
}

// Bounds of what a failed package prints.
const (
	tailLines    = 300
	tailLineSize = 2 << 10
)

// notableMarks are what makes a line notable, in the functions' and the
// runner's JSON (severity WARNING/ERROR, level WARN/ERROR) and in the Java
// emulators' own log (WARNING, SEVERE, exceptions).
var notableMarks = [][]byte{[]byte("WARN"), []byte("ERROR"), []byte("SEVERE"), []byte("Exception"), []byte("panic")}

func newTail() *tail {
	return &tail{last: ring{size: tailLines}, notable: ring{size: tailLines}}
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		line := t.partial[:i]
		if t.cut || len(line) > tailLineSize {
			line = append(line[:min(len(line), tailLineSize):min(len(line), tailLineSize)], "…"...)
		}
		t.cut = false
		line = bytes.Clone(line)
		t.last.add(line)
		for _, m := range notableMarks {
			if bytes.Contains(line, m) {
				t.notable.add(line)
				break
			}
		}
		t.partial = t.partial[i+1:]
	}
	if len(t.partial) > tailLineSize {
		// A line with no end yet: keep its start only.
		t.partial, t.cut = t.partial[:tailLineSize], true
	}
	return len(p), nil
}

// dump writes what was kept, notable lines first.
func (t *tail) dump(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(w, "emulatortest: the stack's last %d notable log lines (EMULATOR_LOGS=file keeps them all):\n", t.notable.len())
	t.notable.each(func(l []byte) { fmt.Fprintf(w, "  %s\n", l) })
	fmt.Fprintf(w, "emulatortest: the stack's last %d log lines:\n", t.last.len())
	t.last.each(func(l []byte) { fmt.Fprintf(w, "  %s\n", l) })
}

// ring holds the last size lines.
type ring struct {
	size  int
	lines [][]byte
	next  int // where the next line goes once full
}

func (r *ring) add(l []byte) {
	if len(r.lines) < r.size {
		r.lines = append(r.lines, l)
		return
	}
	r.lines[r.next] = l
	r.next = (r.next + 1) % r.size
}

func (r *ring) len() int { return len(r.lines) }

// each calls f on the lines, oldest first.
func (r *ring) each(f func([]byte)) {
	for i := range r.lines {
		f(r.lines[(r.next+i)%len(r.lines)])
	}
}
