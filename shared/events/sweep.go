package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	firestorepb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// sweepFirstLookback is how far back the very first sweep of a project
// looks.
const sweepFirstLookback = 24 * time.Hour

// SweepResult is what one SweepPending run did.
type SweepResult struct {
	// From and Through bound the createdAt slice the run looked at.
	From    time.Time `json:"from"`
	Through time.Time `json:"through"`
	// Events is how many events the slice holds; Pending how many of them
	// had no decision; Decided how many the run decided.
	Events  int64 `json:"events"`
	Pending int64 `json:"pending"`
	Decided int64 `json:"decided"`
}

// SweepPending decides every event older than minAge that no trigger
// decided: a trigger can be lost for good in production too (retries
// exhausted, a bug). It is cheap when nothing is pending: it remembers the
// commit time up to which every event is decided, and compares two counts
// over the slice after it (an aggregation costs one read per 1,000 index
// entries) before reading any event. Only when the counts differ does it
// read the slice's events, and sequence the sessions with undecided ones;
// the mark moves on only once the whole slice is decided, so a failed run
// is retried by the next.
func (s *Sequencer) SweepPending(ctx context.Context, minAge time.Duration) (SweepResult, error) {
	stateRef := model.PendingSweepRef(s.fs)
	now := s.now()
	res := SweepResult{Through: now.Add(-minAge)}
	var st model.PendingSweepMark
	snap, err := stateRef.Get(ctx)
	s.Stats.add(func(c *Counters) { c.Reads++ })
	switch {
	case status.Code(err) == codes.NotFound:
		st.Through = res.Through.Add(-sweepFirstLookback)
	case err != nil:
		return res, fmt.Errorf("read sweep state: %w", err)
	default:
		if err := snap.DataTo(&st); err != nil {
			return res, fmt.Errorf("decode sweep state: %w", err)
		}
	}
	res.From = st.Through
	if !res.From.Before(res.Through) {
		return res, nil
	}
	slice := s.fs.CollectionGroup(model.EventsCollection).
		Where(model.FieldCreatedAt, ">", res.From).Where(model.FieldCreatedAt, "<=", res.Through)
	total, err := s.count(ctx, slice, nil)
	if err != nil {
		return res, err
	}
	decided, err := s.count(ctx, slice.Where(model.FieldStatus, "in", []string{model.EventAccepted, model.EventRejected}), nil)
	if err != nil {
		return res, err
	}
	res.Events, res.Pending = total, total-decided
	if res.Pending > 0 {
		n, err := s.decideSlice(ctx, slice)
		res.Decided = n
		if err != nil {
			return res, err
		}
	}
	if _, err := stateRef.Set(ctx, model.PendingSweepMark{Through: res.Through}); err != nil {
		return res, fmt.Errorf("advance sweep state: %w", err)
	}
	s.Stats.add(func(c *Counters) { c.Writes++ })
	return res, nil
}

// count counts what q matches, in tx when it is not nil.
func (s *Sequencer) count(ctx context.Context, q firestore.Query, tx *firestore.Transaction) (int64, error) {
	aq := q.NewAggregationQuery().WithCount("n")
	if tx != nil {
		aq = aq.Transaction(tx)
	}
	r, err := aq.Get(ctx)
	if err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	v, ok := r["n"].(*firestorepb.Value)
	if !ok {
		return 0, fmt.Errorf("count events: unexpected result %T", r["n"])
	}
	n := v.GetIntegerValue()
	// Billed as one read per 1,000 index entries, at least one.
	s.Stats.add(func(c *Counters) { c.Reads += 1 + n/1000 })
	return n, nil
}

// decideSlice sequences every undecided event of the slice. One Sequence
// decides its session's whole backlog, so the later events of a session
// mostly find their decision already made.
func (s *Sequencer) decideSlice(ctx context.Context, slice firestore.Query) (int64, error) {
	it := slice.Select(model.FieldStatus).Documents(ctx)
	defer it.Stop()
	var decided int64
	var errs []error
	for {
		d, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return decided, fmt.Errorf("read pending slice: %w", err)
		}
		s.Stats.add(func(c *Counters) { c.Reads++ })
		if st, _ := d.Data()[model.FieldStatus].(string); st != "" {
			continue
		}
		sess := d.Ref.Parent.Parent
		if sess == nil || sess.Parent.ID != model.SessionsCollection {
			continue // an "events" collection elsewhere: not ours
		}
		if _, err := s.Sequence(ctx, sess.ID, d.Ref.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		decided++
	}
	if err := errors.Join(errs...); err != nil {
		return decided, fmt.Errorf("sweep: %d events left pending: %w", len(errs), err)
	}
	return decided, nil
}
