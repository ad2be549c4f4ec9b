package logging

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

// Trace is the Cloud Trace identity of one invocation. Log lines that carry
// it are grouped under their request in Cloud Logging, so one event can be
// followed from its trigger to its publication.
type Trace struct {
	TraceID string
	SpanID  string
	Sampled bool
}

type traceKey struct{}

// ContextWithTrace returns ctx carrying t; every line logged with it (the
// *Context methods of slog) names the trace.
func ContextWithTrace(ctx context.Context, t Trace) context.Context {
	if t.TraceID == "" {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom is the trace ctx carries: one set by ContextWithTrace, else the
// one functions-framework-go took from the request's X-Cloud-Trace-Context.
func TraceFrom(ctx context.Context) Trace {
	if t, ok := ctx.Value(traceKey{}).(Trace); ok {
		return t
	}
	return Trace{TraceID: funcframework.TraceIDFromContext(ctx), SpanID: funcframework.SpanIDFromContext(ctx)}
}

var (
	// W3C trace context: version-traceid-parentid-flags.
	traceparent = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)
	// Google's: TRACE_ID/SPAN_ID;o=1, the span id in decimal.
	cloudTraceContext = regexp.MustCompile(`^([0-9a-fA-F]{32})(?:/([0-9]+))?(?:;o=([01]))?$`)
)

// ParseTraceparent reads a W3C traceparent (the CloudEvents distributed
// tracing extension, and the header Cloud Run forwards).
func ParseTraceparent(s string) (Trace, bool) {
	m := traceparent.FindStringSubmatch(s)
	if m == nil || m[1] == "00000000000000000000000000000000" {
		return Trace{}, false
	}
	return Trace{TraceID: m[1], SpanID: m[2], Sampled: m[3] == "01"}, true
}

// ParseCloudTraceContext reads an X-Cloud-Trace-Context header.
func ParseCloudTraceContext(s string) (Trace, bool) {
	m := cloudTraceContext.FindStringSubmatch(s)
	if m == nil {
		return Trace{}, false
	}
	return Trace{TraceID: m[1], SpanID: m[2], Sampled: m[3] == "1"}, true
}

// TraceOfRequest is the trace of an incoming request: traceparent first,
// then X-Cloud-Trace-Context.
func TraceOfRequest(r *http.Request) Trace {
	if t, ok := ParseTraceparent(r.Header.Get("traceparent")); ok {
		return t
	}
	t, _ := ParseCloudTraceContext(r.Header.Get("X-Cloud-Trace-Context"))
	return t
}

// Cloud Logging's special fields for the trace.
const (
	keyTrace   = "logging.googleapis.com/trace"
	keySpanID  = "logging.googleapis.com/spanId"
	keySampled = "logging.googleapis.com/trace_sampled"
)

// traceHandler adds the context's trace to every record.
type traceHandler struct {
	slog.Handler
	project string
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if t := TraceFrom(ctx); t.TraceID != "" {
		r.AddAttrs(slog.String(keyTrace, "projects/"+h.project+"/traces/"+t.TraceID))
		if t.SpanID != "" {
			r.AddAttrs(slog.String(keySpanID, t.SpanID))
		}
		if t.Sampled {
			r.AddAttrs(slog.Bool(keySampled, true))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as), h.project}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name), h.project}
}
