package events_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	. "github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
)

// stack is the Firestore emulator for this package; no trigger is wired, so
// the tests call Sequence themselves, as concurrent deliveries would.
var stack *emulator.Stack

func TestMain(m *testing.M) { os.Exit(emulatortest.MainStack(m, &stack)) }

func newClient(tb testing.TB) *firestore.Client { return emulatortest.Firestore(tb, stack) }

func newSession(tb testing.TB, fs *firestore.Client, participants ...string) string {
	tb.Helper()
	id := emulatortest.ID("s")
	now := time.Now()
	_, err := fs.Collection(model.SessionsCollection).Doc(id).Set(context.Background(), model.Session{
		ID: id, ExperienceID: "co_reading", OwnerID: participants[0], Status: model.StatusActive,
		Participants: participants, CreatedAt: now, UpdatedAt: now, LastActivityAt: now,
	})
	require.NoError(tb, err)
	return id
}

func writeEvent(ctx context.Context, fs *firestore.Client, sessionID, id, sender string, clientSeq int64) error {
	_, err := fs.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection).Doc(id).Create(ctx, map[string]any{
		"id": id, "type": "page_changed", "senderId": sender, "data": map[string]any{"pageIndex": "1"},
		"clientSequenceNumber": clientSeq, "createdAt": firestore.ServerTimestamp,
	})
	return err
}

// TestTwoInstancesRace: two sequencers with separate lanes stand for two
// function instances; every event is delivered to both, twice, in random
// order and concurrently. The transaction alone must keep the numbering
// exactly once and in commit order.
func TestTwoInstancesRace(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1", "u2")
	const n = 120
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("e%03d", i)
		require.NoError(t, writeEvent(ctx, fs, sessionID, ids[i], []string{"u1", "u2"}[i%2], int64(i)))
	}
	reg := experiences.Default()
	unlimited := ratelimit.Limit{PerSecond: 1e6, Burst: 1e6}
	opts := &Options{BatchSize: 25, SenderLimit: unlimited, SessionLimit: unlimited}
	a := NewSequencer(fs, reg, opts)
	b := NewSequencer(fs, reg, opts)
	type call struct {
		seq *Sequencer
		id  string
	}
	var calls []call
	for _, id := range ids {
		calls = append(calls, call{a, id}, call{b, id}, call{a, id}, call{b, id})
	}
	rand.New(rand.NewSource(3)).Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
	outcomes := make(chan Outcome, len(calls))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, c := range calls {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out, err := c.seq.Sequence(ctx, sessionID, c.id)
			if err != nil {
				t.Errorf("sequence %s: %v", c.id, err)
			}
			outcomes <- out
		})
	}
	wg.Wait()
	close(outcomes)

	docs, err := fs.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection).
		OrderBy("createdAt", firestore.Asc).OrderBy("clientSequenceNumber", firestore.Asc).
		OrderBy(firestore.DocumentID, firestore.Asc).Documents(ctx).GetAll()
	require.NoError(t, err)
	require.Len(t, docs, n)
	for i, d := range docs {
		require.Equal(t, model.EventAccepted, d.Data()["status"], "%s: %v", d.Ref.ID, d.Data()["rejectReason"])
		require.EqualValues(t, i+1, d.Data()["sequenceNumber"], "event %s", d.Ref.ID)
	}
	for out := range outcomes {
		require.Equal(t, model.EventAccepted, out.Status)
	}
	sa, sb := a.Stats.Snapshot(), b.Stats.Snapshot()
	t.Logf("instance A %+v", sa)
	t.Logf("instance B %+v", sb)
	require.EqualValues(t, n, sa.Accepted+sb.Accepted, "each event accepted by exactly one run")
}

// BenchmarkSequencing measures one session's pipeline on the emulator:
// writers write events as fast as the emulator takes them and each write is
// followed by a concurrent delivery of its trigger, as Eventarc delivers.
// Metrics come from the sequencer's own counters.
//
//	go test -run '^$' -bench Sequencing -benchtime 400x ./shared/events/
func BenchmarkSequencing(b *testing.B) {
	fs := newClient(b)
	ctx := context.Background()
	for _, writers := range []int{1, 5, 20, 50} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			users := make([]string, writers)
			for i := range users {
				users[i] = fmt.Sprintf("u%02d", i)
			}
			sessionID := newSession(b, fs, users...)
			seq := NewSequencer(fs, experiences.Default(), &Options{
				SenderLimit: ratelimit.Limit{PerSecond: 1e6, Burst: 1e6}, SessionLimit: ratelimit.Limit{PerSecond: 1e6, Burst: 1e6},
			})
			var wg sync.WaitGroup
			next := make(chan int, b.N)
			for i := range b.N {
				next <- i
			}
			close(next)
			b.ResetTimer()
			start := time.Now()
			for w := range writers {
				wg.Go(func() {
					for i := range next {
						id := fmt.Sprintf("e%06d", i)
						if err := writeEvent(ctx, fs, sessionID, id, users[w], int64(i)); err != nil {
							b.Error(err)
							return
						}
						wg.Go(func() {
							if _, err := seq.Sequence(ctx, sessionID, id); err != nil {
								b.Error(err)
							}
						})
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			st := seq.Stats.Snapshot()
			if st.Accepted != int64(b.N) {
				b.Fatalf("accepted %d of %d", st.Accepted, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(st.SessionWrites)/float64(b.N), "sessionWrites/event")
			b.ReportMetric(float64(st.Reads+st.Writes)*1000/float64(b.N), "ops/1000events")
			b.ReportMetric(float64(st.TransactionAttempts)/float64(max(st.Transactions, 1)), "attempts/tx")
		})
	}
}
