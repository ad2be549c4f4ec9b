package events

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// publish sends the accepted events up to the newest one this run knows of,
// in sequence order, starting after the cursor: events a crashed or failed
// earlier run left unpublished go first. A crash between Publish and the
// cursor write publishes those events again on the next run: at least once,
// and exactly once as far as one run can tell.
func (s *Sequencer) publish(ctx context.Context, sessionID string, res runResult) error {
	upTo := res.alreadyDecided
	if n := len(res.accepted); n > 0 {
		upTo = res.accepted[n-1].SequenceNumber
	}
	if s.pub == nil || upTo == 0 {
		return nil
	}
	sessRef := model.SessionRef(s.fs, sessionID)
	cursorRef := model.PublisherRef(sessRef)
	var cur model.PublishCursor
	if n, ok := s.sessions.published.get(sessionID); ok && len(res.accepted) > 0 && n == res.accepted[0].SequenceNumber-1 {
		// This process published everything before this run's events
		// itself: the cursor need not be read to know nothing is owed.
		cur.LastPublishedSequenceNumber = n
	} else {
		snap, err := cursorRef.Get(ctx)
		s.Stats.add(func(st *Counters) { st.Reads++ })
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return fmt.Errorf("read publish cursor: %w", err)
		default:
			if err := snap.DataTo(&cur); err != nil {
				return fmt.Errorf("decode publish cursor: %w", err)
			}
		}
	}
	if cur.LastPublishedSequenceNumber >= upTo {
		return nil
	}

	first := upTo + 1
	if len(res.accepted) > 0 {
		first = res.accepted[0].SequenceNumber
	}
	var out []model.Event
	if cur.LastPublishedSequenceNumber+1 < first {
		docs, err := model.EventsRef(sessRef).
			Where(model.FieldSequenceNumber, ">", cur.LastPublishedSequenceNumber).
			Where(model.FieldSequenceNumber, "<", first).
			OrderBy(model.FieldSequenceNumber, firestore.Asc).
			Documents(ctx).GetAll()
		s.Stats.add(func(st *Counters) { st.Reads += int64(max(len(docs), 1)) })
		if err != nil {
			return fmt.Errorf("read unpublished events: %w", err)
		}
		for _, d := range docs {
			out = append(out, model.DecodeEvent(d))
		}
	}
	for _, ev := range res.accepted {
		if ev.SequenceNumber > cur.LastPublishedSequenceNumber {
			out = append(out, ev)
		}
	}
	experienceID := res.experienceID
	if experienceID == "" {
		snap, err := sessRef.Get(ctx)
		s.Stats.add(func(st *Counters) { st.Reads++ })
		if err != nil {
			return fmt.Errorf("read session for publish: %w", err)
		}
		experienceID, _ = snap.Data()[model.FieldExperienceID].(string)
	}
	msgs := make([]Accepted, len(out))
	for i, ev := range out {
		msgs[i] = Accepted{Event: ev, ExperienceID: experienceID}
	}
	if err := s.pub.Publish(ctx, sessionID, msgs); err != nil {
		return fmt.Errorf("publish %d events of session %s: %w", len(msgs), sessionID, err)
	}
	s.Stats.add(func(st *Counters) { st.Published += int64(len(msgs)); st.Writes++ })
	// The maximum of the stored value and upTo, applied by Firestore: a
	// run on another instance that published further meanwhile is never
	// taken back (which would make the next run publish its events again,
	// after later ones).
	if _, err := cursorRef.Set(ctx, map[string]any{
		model.FieldLastPublishedSequenceNumber: firestore.FieldTransformMaximum(upTo),
	}, firestore.MergeAll); err != nil {
		return fmt.Errorf("advance publish cursor: %w", err)
	}
	s.sessions.published.set(sessionID, upTo)
	return nil
}
