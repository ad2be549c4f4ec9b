package functions_test

import (
	"testing"
)

// TestSDKStream runs emulator/smoke/stream.mjs: the Firebase JS SDK's
// httpsCallable(...).stream() against this package's stack must settle
// with the result on success and with the error's code on failure (a
// domain error and a decoding error), both in its data promise and in its
// stream. Before the callables answered server-sent events, neither
// settled.
func TestSDKStream(t *testing.T) {
	env.Require(t)
	runSDKScript(t, "stream.mjs", "stream client")
}
