package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	. "github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// flakyPublisher records what it publishes and fails on demand: failBefore
// refuses a batch without taking it (Pub/Sub unreachable); failAfter takes
// it and reports failure anyway (the answer lost on the way back).
type flakyPublisher struct {
	mu                    sync.Mutex
	failBefore, failAfter int
	published             []int64
}

var errPublish = errors.New("publish failed on purpose")

func (p *flakyPublisher) Publish(_ context.Context, _ string, evs []Accepted) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failBefore > 0 {
		p.failBefore--
		return errPublish
	}
	for _, e := range evs {
		p.published = append(p.published, e.SequenceNumber)
	}
	if p.failAfter > 0 {
		p.failAfter--
		return errPublish
	}
	return nil
}

// TestPublishCursorRetry: a failed publication fails the delivery, and its
// retry publishes what was owed, in order, from the publish cursor: nothing
// lost, nothing skipped; a publication whose answer was lost is published
// again, identically (at least once).
func TestPublishCursorRetry(t *testing.T) {
	tests := []struct {
		name                  string
		failBefore, failAfter int
		want                  []int64
	}{
		{"refused, then published", 1, 0, []int64{1, 2, 3}},
		{"taken but reported failed: published again", 0, 1, []int64{1, 2, 3, 1, 2, 3}},
		{"refused twice", 2, 0, []int64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newClient(t)
			ctx := context.Background()
			sessionID := newSession(t, fs, "u1")
			for i := range 3 {
				require.NoError(t, writeEvent(ctx, fs, sessionID, fmt.Sprintf("e%d", i), "u1", int64(i)))
			}
			pub := &flakyPublisher{failBefore: tt.failBefore, failAfter: tt.failAfter}
			seq := NewSequencer(fs, experiences.Default(), &Options{Publisher: pub})
			failures := tt.failBefore + tt.failAfter
			for range failures {
				_, err := seq.Sequence(ctx, sessionID, "e0")
				require.ErrorIs(t, err, errPublish)
			}
			out, err := seq.Sequence(ctx, sessionID, "e0")
			require.NoError(t, err)
			require.EqualValues(t, 1, out.SequenceNumber)
			// Later triggers find everything published: nothing more goes out.
			for _, id := range []string{"e1", "e2"} {
				_, err := seq.Sequence(ctx, sessionID, id)
				require.NoError(t, err)
			}
			pub.mu.Lock()
			defer pub.mu.Unlock()
			require.Equal(t, tt.want, pub.published)
		})
	}
}

// TestNoRepublishAfterFinalize: a finalized session keeps its publish
// cursor, so a trigger redelivered after finalization (or a late event's
// run) publishes nothing again. Found by the soak test (seed 5072): the
// finalizer deleted the cursor, and the next run republished every event.
func TestNoRepublishAfterFinalize(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	callID := emulatortest.ID("call")
	// A user of its own: the store's per-user creation limit is shared by
	// every test of the package.
	uid := emulatortest.ID("u")
	_, err := fs.Collection(model.CallsCollection).Doc(callID).Set(ctx, model.Call{Members: []string{uid}})
	require.NoError(t, err)
	store := sessions.NewStore(fs, nil)
	sess, err := store.Create(ctx, uid, callID, "co_reading")
	require.NoError(t, err)
	// clientSequenceNumber 1: a client event in the millisecond of the
	// join would sort before it on a tie with the server's 0, by id.
	require.NoError(t, writeEvent(ctx, fs, sess.ID, "e0", uid, 1))
	pub := &flakyPublisher{}
	seq := NewSequencer(fs, experiences.Default(), &Options{Publisher: pub})
	_, err = seq.Sequence(ctx, sess.ID, "e0")
	require.NoError(t, err)
	_, err = store.End(ctx, uid, sess.ID)
	require.NoError(t, err)
	ended, err := model.EventsRef(model.SessionRef(fs, sess.ID)).Where(model.FieldType, "==", model.ExperienceEnded).Documents(ctx).GetAll()
	require.NoError(t, err)
	require.Len(t, ended, 1)
	_, err = seq.Sequence(ctx, sess.ID, ended[0].Ref.ID)
	require.NoError(t, err)
	pub.mu.Lock()
	before := append([]int64(nil), pub.published...)
	pub.mu.Unlock()
	require.Equal(t, []int64{1, 2, 3}, before)

	done, err := store.Finalize(ctx, sess.ID, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.True(t, done)
	// A redelivered trigger of an accepted event, on a fresh instance.
	again := NewSequencer(fs, experiences.Default(), &Options{Publisher: pub})
	_, err = again.Sequence(ctx, sess.ID, "e0")
	require.NoError(t, err)
	pub.mu.Lock()
	defer pub.mu.Unlock()
	require.Equal(t, before, pub.published, "events published again after finalization")
}

// gatedPublisher holds each Publish until release is closed, after telling
// entered.
type gatedPublisher struct {
	entered chan struct{}
	release chan struct{}
}

func (p *gatedPublisher) Publish(context.Context, string, []Accepted) error {
	p.entered <- struct{}{}
	<-p.release
	return nil
}

// TestPublishCursorNeverGoesBack: instance A commits 2 and stalls in its
// publication; instance B commits 3 and publishes 2..3, cursor at 3; then
// A finishes. A's cursor write must not take the cursor back to 2, or the
// next run would publish 3 again, after it had gone out (found by an
// attacker's review of publish.go).
func TestPublishCursorNeverGoesBack(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	gate := &gatedPublisher{entered: make(chan struct{}, 1), release: make(chan struct{})}
	pubA := &flakyPublisher{}
	a := NewSequencer(fs, experiences.Default(), &Options{Publisher: pubA})
	require.NoError(t, writeEvent(ctx, fs, sessionID, "e1", "u1", 1))
	_, err := a.Sequence(ctx, sessionID, "e1") // A publishes 1 itself: its cache knows the cursor
	require.NoError(t, err)

	stalled := NewSequencer(fs, experiences.Default(), &Options{Publisher: gate})
	_, err = stalled.Sequence(ctx, sessionID, "e1") // the same cache state as A: published 1
	require.NoError(t, err)
	require.NoError(t, writeEvent(ctx, fs, sessionID, "e2", "u1", 2))
	done := make(chan error, 1)
	go func() { _, err := stalled.Sequence(ctx, sessionID, "e2"); done <- err }()
	<-gate.entered // 2 committed, its publication in flight

	require.NoError(t, writeEvent(ctx, fs, sessionID, "e3", "u1", 3))
	b := NewSequencer(fs, experiences.Default(), &Options{Publisher: &flakyPublisher{}})
	out, err := b.Sequence(ctx, sessionID, "e3")
	require.NoError(t, err)
	require.EqualValues(t, 3, out.SequenceNumber)
	close(gate.release)
	require.NoError(t, <-done)

	snap, err := model.PublisherRef(model.SessionRef(fs, sessionID)).Get(ctx)
	require.NoError(t, err)
	var cur model.PublishCursor
	require.NoError(t, snap.DataTo(&cur))
	require.EqualValues(t, 3, cur.LastPublishedSequenceNumber, "the cursor went back")
}
