package functions_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/functions"
)

// BenchmarkJoinSession measures joinSession's round trip through the
// callable protocol on the emulators, for sessions with n accepted events
// and no snapshot (so all n come back in the response).
//
//	go test -run '^$' -bench JoinSession -benchtime 20x ./functions/
func BenchmarkJoinSession(b *testing.B) {
	env.Require(b)
	ctx := context.Background()
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			u := env.NewUser(b)
			sessionID := seedSession(b, ctx, emulatortest.ID("call"), u.UID)
			bw := env.Admin.BulkWriter(ctx)
			at := time.Now().Add(-time.Hour)
			for i := range n {
				id := fmt.Sprintf("e%05d", i)
				if _, err := bw.Create(eventsOf(sessionID).Doc(id), validEvent(id, u.UID, int64(i), at.Add(time.Duration(i)*time.Second))); err != nil {
					b.Fatal(err)
				}
			}
			bw.End()
			deadline := time.Now().Add(2 * time.Minute)
			for {
				var res functions.JoinSessionResult
				if err := env.Callables.Call(ctx, "joinSession", u.IDToken, map[string]any{"sessionId": sessionID}, &res); err != nil {
					b.Fatal(err)
				}
				if len(res.Events) == n {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("only %d of %d events sequenced", len(res.Events), n)
				}
				time.Sleep(200 * time.Millisecond)
			}
			b.ResetTimer()
			for range b.N {
				var res functions.JoinSessionResult
				if err := env.Callables.Call(ctx, "joinSession", u.IDToken, map[string]any{"sessionId": sessionID}, &res); err != nil {
					b.Fatal(err)
				}
				if len(res.Events) != n {
					b.Fatalf("%d events, want %d", len(res.Events), n)
				}
			}
		})
	}
}
