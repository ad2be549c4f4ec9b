package functions

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/shared/logging"
)

func TestTracedReadsTheCloudEventsTraceparent(t *testing.T) {
	e := event.New()
	e.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	got := logging.TraceFrom(traced(t.Context(), e))
	require.Equal(t, logging.Trace{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Sampled: true}, got)

	require.Empty(t, logging.TraceFrom(traced(t.Context(), event.New())).TraceID)
}
