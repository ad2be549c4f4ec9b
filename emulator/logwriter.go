package emulator

import (
	"bytes"
	"io"
	"sync"
)

// prefixWriter labels each line a child prints with its name, so the
// interleaved output of the stack stays readable.
func prefixWriter(w io.Writer, name string) io.Writer {
	if w == io.Discard {
		return w
	}
	return &lineWriter{w: w, prefix: []byte("[" + name + "] ")}
}

type lineWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte{}, l.prefix...), l.buf[:i+1]...)
		if _, err := l.w.Write(line); err != nil {
			return len(p), err
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}
