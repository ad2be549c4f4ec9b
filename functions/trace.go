package functions

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/pajama-app/sharedexperiences/shared/logging"
)

// traced is ctx carrying the CloudEvent's trace (the distributed tracing
// extension's traceparent, which Eventarc sets), so every line an
// invocation logs is grouped under it in Cloud Logging. HTTP functions need
// nothing: functions-framework-go reads X-Cloud-Trace-Context into the
// request's context, and the logger finds it there.
func traced(ctx context.Context, e event.Event) context.Context {
	tp, _ := e.Extensions()["traceparent"].(string)
	if t, ok := logging.ParseTraceparent(tp); ok {
		return logging.ContextWithTrace(ctx, t)
	}
	return ctx
}
