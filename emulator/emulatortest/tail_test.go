package emulatortest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTail(t *testing.T) {
	k := newTail()
	// Written in pieces, as pipes deliver it: lines are cut at newlines only.
	for i := range tailLines + 50 {
		line := fmt.Sprintf(`{"severity":"INFO","message":"line %d"}`, i)
		if i%100 == 7 {
			line = fmt.Sprintf(`[pubsub] WARNING: Stream Error %d`, i)
		}
		half := len(line) / 2
		k.Write([]byte(line[:half]))
		k.Write([]byte(line[half:] + "\n"))
	}
	k.Write([]byte(strings.Repeat("x", 3*tailLineSize) + "\n"))
	// A long line written in pieces, its end after the cut.
	k.Write([]byte(strings.Repeat("y", tailLineSize)))
	k.Write([]byte(strings.Repeat("y", tailLineSize)))
	k.Write([]byte("yy\n"))
	k.Write([]byte("no end yet"))

	var b strings.Builder
	k.dump(&b)
	out := b.String()
	notable, last, ok := strings.Cut(out, "\nemulatortest: ")
	require.True(t, ok)
	require.True(t, strings.HasPrefix(notable, "emulatortest: the stack's last 4 notable log lines"))
	require.Equal(t, 4, strings.Count(notable, "WARNING: Stream Error"))
	require.True(t, strings.HasPrefix(last, fmt.Sprintf("the stack's last %d log lines:", tailLines)))
	require.NotContains(t, last, `"line 51"`, "the oldest lines are dropped")
	require.Contains(t, last, `"line 52"`)
	require.Contains(t, last, strings.Repeat("x", tailLineSize)+"…\n")
	require.NotContains(t, last, strings.Repeat("x", tailLineSize+1))
	require.Contains(t, last, strings.Repeat("y", tailLineSize)+"…\n")
	require.NotContains(t, last, strings.Repeat("y", tailLineSize+1))
	require.NotContains(t, out, "no end yet")
}
