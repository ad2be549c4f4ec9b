package emulator

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStatusRecorderFlushes: the callable proxy's recorder lets a
// streaming response flush through it.
func TestStatusRecorderFlushes(t *testing.T) {
	under := httptest.NewRecorder()
	rec := &statusRecorder{ResponseWriter: under, code: http.StatusOK}
	require.NoError(t, http.NewResponseController(rec).Flush())
	require.True(t, under.Flushed)
}
