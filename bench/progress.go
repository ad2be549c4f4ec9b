package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// progress is the one line that says what the bench is doing. On a
// terminal it is redrawn in place; otherwise (CI, a pipe) a line is
// printed when a phase starts and every 10 s, so logs stay short.
type progress struct {
	out   io.Writer
	tty   bool
	start time.Time

	mu    sync.Mutex
	name  string
	step  int
	steps int

	done, total atomic.Int64
	quit        chan struct{}
	wg          sync.WaitGroup
}

func newProgress(out *os.File, steps int) *progress {
	fi, err := out.Stat()
	p := &progress{
		out: out, tty: err == nil && fi.Mode()&os.ModeCharDevice != 0,
		start: time.Now(), steps: steps, quit: make(chan struct{}),
	}
	p.wg.Go(p.loop)
	return p
}

func (p *progress) loop() {
	every := 10 * time.Second
	if p.tty {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.draw()
		}
	}
}

// scenario starts the next numbered step.
func (p *progress) scenario(name string, total int64) {
	p.mu.Lock()
	p.step++
	p.mu.Unlock()
	p.phase(name, total)
}

// phase names what runs now and how many units it has (0: unknown).
func (p *progress) phase(name string, total int64) {
	p.mu.Lock()
	p.name = name
	p.mu.Unlock()
	p.done.Store(0)
	p.total.Store(total)
	p.draw()
}

func (p *progress) setTotal(n int64) { p.total.Store(n); p.done.Store(0) }
func (p *progress) add(n int64)      { p.done.Add(n) }
func (p *progress) set(n int64)      { p.done.Store(n) }

func (p *progress) line() string {
	p.mu.Lock()
	name, step, steps := p.name, p.step, p.steps
	p.mu.Unlock()
	s := fmt.Sprintf("[%s] %d/%d %s", time.Since(p.start).Round(time.Second), step, steps, name)
	if total := p.total.Load(); total > 0 {
		s += fmt.Sprintf(": %d/%d", p.done.Load(), total)
	}
	return s
}

func (p *progress) draw() {
	if p.tty {
		fmt.Fprintf(p.out, "\r\033[K%s", p.line())
		return
	}
	fmt.Fprintln(p.out, p.line())
}

// printf prints a finished result line above the progress line.
func (p *progress) printf(format string, args ...any) {
	if p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
	fmt.Fprintf(p.out, format+"\n", args...)
	if p.tty {
		p.draw()
	}
}

func (p *progress) close() {
	close(p.quit)
	p.wg.Wait()
	if p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
}
