package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/logging"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
)

// Options tunes a Sequencer; zero fields take the defaults below.
type Options struct {
	// BatchSize bounds the events decided in one transaction (Firestore
	// allows 500 writes in one commit).
	BatchSize int
	// MaxEventBytes bounds one event's stored size.
	MaxEventBytes int
	// SenderLimit and SessionLimit are the sustained rates and bursts
	// allowed per sender and per session, measured on createdAt.
	SenderLimit, SessionLimit ratelimit.Limit
	// MaxAttempts bounds a run's attempts under contention (commits whose
	// preconditions failed).
	MaxAttempts int
	// Clock stamps updatedAt and lastActivityAt (default time.Now).
	Clock func() time.Time
}

// Defaults generous enough for people: 20 events/s per sender and 100 per
// session sustained, with bursts of twice that.
var DefaultOptions = Options{
	BatchSize:     200,
	MaxEventBytes: 16 << 10,
	SenderLimit:   ratelimit.Limit{PerSecond: 20, Burst: 40},
	SessionLimit:  ratelimit.Limit{PerSecond: 100, Burst: 200},
	MaxAttempts:   20,
}

// Outcome is what was decided for one event.
type Outcome struct {
	Status         string
	Reason         RejectReason
	SequenceNumber int64
}

// Publisher fans accepted events out, in the order given, after they are
// committed.
type Publisher interface {
	Publish(ctx context.Context, sessionID string, events []Accepted) error
}

// Accepted is an accepted event as published.
type Accepted struct {
	model.Event
	ExperienceID string
}

func (s *Sequencer) now() time.Time { return s.opts.Clock() }

// Sequencer decides and numbers the events of sessions.
type Sequencer struct {
	fs    *firestore.Client
	reg   *experiences.Registry
	pub   Publisher // nil: no fan-out
	opts  Options
	log   *slog.Logger
	lanes *lanes
	// sessions is this process's view of the sessions it sequenced last,
	// checked by every commit's precondition.
	sessions *sessionCache
	// Counters (Firestore operations, session writes, transaction attempts)
	// for the benchmark and the logs.
	Stats *Stats
}

// NewSequencer returns a Sequencer. pub may be nil to switch the fan-out off.
func NewSequencer(fs *firestore.Client, reg *experiences.Registry, pub Publisher, opts *Options, log *slog.Logger) *Sequencer {
	o := DefaultOptions
	if opts != nil {
		if opts.BatchSize > 0 {
			o.BatchSize = min(opts.BatchSize, 450)
		}
		if opts.MaxEventBytes > 0 {
			o.MaxEventBytes = opts.MaxEventBytes
		}
		if opts.SenderLimit != (ratelimit.Limit{}) {
			o.SenderLimit = opts.SenderLimit
		}
		if opts.SessionLimit != (ratelimit.Limit{}) {
			o.SessionLimit = opts.SessionLimit
		}
		if opts.MaxAttempts > 0 {
			o.MaxAttempts = opts.MaxAttempts
		}
		o.Clock = opts.Clock
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Sequencer{fs: fs, reg: reg, pub: pub, opts: o, log: log, lanes: newLanes(), sessions: newSessionCache(), Stats: &Stats{}}
}

// Sequence makes sure the event eventID of session sessionID is decided,
// together with whatever else is pending in that session, and returns its
// outcome. It is safe to call any number of times, concurrently, for the
// same event.
func (s *Sequencer) Sequence(ctx context.Context, sessionID, eventID string) (Outcome, error) {
	return s.sequence(ctx, sessionID, eventID, nil)
}

// SequenceCreated is Sequence for a trigger that carries the event as it
// was created (a Firestore CloudEvent does): the event is then not read
// again. A copy that does not decode cleanly, or is decided already, is
// ignored, and the event read as Sequence reads it.
func (s *Sequencer) SequenceCreated(ctx context.Context, sessionID string, created model.Event) (Outcome, error) {
	var c *model.Event
	if created.Malformed == nil && created.Status == "" && created.DocID != "" {
		ev := s.compact(created)
		c = &ev
	}
	return s.sequence(ctx, sessionID, created.DocID, c)
}

func (s *Sequencer) sequence(ctx context.Context, sessionID, eventID string, created *model.Event) (Outcome, error) {
	lane := s.lanes.acquire(sessionID)
	defer s.lanes.release(sessionID, lane)
	for {
		out, done, err := s.step(ctx, lane, sessionID, eventID, created)
		if err != nil || done {
			return out, err
		}
	}
}

// step is one turn on the session's lane: a cached decision, or one run
// and its publication. Decisions are cached only once published, so a
// trigger retried after a failed publish publishes again.
func (s *Sequencer) step(ctx context.Context, lane *lane, sessionID, eventID string, created *model.Event) (Outcome, bool, error) {
	lane.mu.Lock()
	defer lane.mu.Unlock()
	if out, ok := lane.decided[eventID]; ok {
		s.Stats.add(func(st *Counters) { st.CachedTriggers++ })
		return out, true, nil
	}
	res, err := s.run(ctx, sessionID, eventID, created)
	if err != nil {
		return Outcome{}, false, err
	}
	if err := s.publish(ctx, sessionID, res); err != nil {
		// The events are decided; the publish cursor stays behind them,
		// so the next run, or this trigger's retry, publishes them.
		return Outcome{}, false, err
	}
	lane.remember(res.known)
	lane.remember(res.decided)
	out, ok := res.decided[eventID]
	switch {
	case ok:
		return out, true, nil
	case !res.more:
		return Outcome{}, false, fmt.Errorf("event %s/%s was not decided by a run", sessionID, eventID)
	case !res.progressed:
		return Outcome{}, false, fmt.Errorf("session %s, event %s: %w", sessionID, eventID, ErrNoProgress)
	}
	return Outcome{}, false, nil
}

// runResult is what one run committed.
type runResult struct {
	decided      map[string]Outcome
	decisions    []decision    // in the order decided, for the log
	accepted     []model.Event // in sequence order
	experienceID string
	// more is true when the batch was full and pending events remain.
	more bool
	// progressed is true when the run decided something or moved the
	// cursor: a full batch that did neither would be run again for ever.
	progressed bool
	// alreadyDecided is the number of the triggering event when an earlier
	// run had accepted it: its publication may still be owed.
	alreadyDecided int64
	// writes and sessionWrites are what the commit wrote.
	writes, sessionWrites int64
	// known are the outcomes of events the window returned decided by
	// other runs (another instance's, typically): final, since a status
	// is never changed, so the lane can answer their triggers.
	known map[string]Outcome
}

// ErrNoProgress reports a run that had more to do but could not move: a
// bug, not an input, since every run passes its whole window. The delivery
// fails, and its retry backs off.
var ErrNoProgress = errors.New("sequencing made no progress")

// errConflict reports a commit whose preconditions failed: another run
// (this process's or another instance's) or another writer of the session
// changed what the attempt read. The attempt is read again and redone.
var errConflict = errors.New("sequencing commit conflicted")

// minTimestamp is the earliest Firestore timestamp. A range filter after
// it keeps the pending query to events whose createdAt is a timestamp, so
// no event without an order (written by an admin with another type) can
// sit in the window: those are decided by their own trigger.
var minTimestamp = time.Time{}

// run is the shell around decideBatch, with optimistic concurrency: read
// without a transaction, decide, then commit the decisions and the session
// in one atomic write whose preconditions are the update times read (the
// session's, each decided event's). A commit that lands therefore decided
// on exactly what was committed when it landed: exactly once (an event
// decided meanwhile fails its precondition) and in order (every run that
// decides anything writes the session, so a run that read an older session
// fails). A failed precondition is a conflict: read again, decide again.
// Nothing here logs inside an attempt; the caller logs what was committed.
//
// The read-write transaction this replaces cost a BeginTransaction round
// trip before its first read and, on the emulator, held pessimistic locks
// on the session and the queried range until commit, which serialised
// concurrent instances and even the clients' creates (bench scenario 9).
func (s *Sequencer) run(ctx context.Context, sessionID, eventID string, created *model.Event) (runResult, error) {
	var res runResult
	var err error
	attempts := 0
	for attempts < s.opts.MaxAttempts {
		attempts++
		res, err = s.attempt(ctx, sessionID, eventID, created)
		if !errors.Is(err, errConflict) {
			break
		}
		// Trust neither the cached session nor the trigger's copy of the
		// event again: both are what changed, possibly.
		s.sessions.forget(sessionID)
		created = nil
		if attempts < s.opts.MaxAttempts {
			if werr := s.backoff(ctx, attempts); werr != nil {
				err = werr
				break
			}
		}
	}
	s.Stats.add(func(st *Counters) { st.Transactions++; st.TransactionAttempts += int64(attempts) })
	if err != nil {
		return runResult{}, fmt.Errorf("sequence session %s (%d attempts): %w", sessionID, attempts, err)
	}
	s.Stats.add(func(st *Counters) {
		st.Writes += res.writes
		st.SessionWrites += res.sessionWrites
		if res.writes > 0 {
			st.Decided += int64(len(res.decided))
			st.Accepted += int64(len(res.accepted))
		}
	})
	s.logDecisions(ctx, sessionID, res.decisions)
	return res, nil
}

// backoff waits before a conflicted attempt is redone: a few milliseconds,
// growing, jittered so that instances that conflicted do not meet again.
func (s *Sequencer) backoff(ctx context.Context, attempt int) error {
	base := min(time.Duration(attempt)*2*time.Millisecond, 50*time.Millisecond)
	t := time.NewTimer(base/2 + rand.N(base))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// versioned is an undecided event and the update time it was read at: the
// precondition of its decision.
type versioned struct {
	ev      model.Event
	version time.Time
}

// attempt is one read-decide-commit. created is the triggering event as
// its trigger carries it, when it does: then, with a current view of the
// session, the event is not read, since the pending window returns it
// (and its version) anyway.
func (s *Sequencer) attempt(ctx context.Context, sessionID, eventID string, created *model.Event) (runResult, error) {
	sessRef := model.SessionRef(s.fs, sessionID)
	evCol := model.EventsRef(sessRef)
	ownRef := evCol.Doc(eventID)
	res := runResult{decided: map[string]Outcome{}}
	decidedAlready := func(ev model.Event) (runResult, error) {
		res.decided[eventID] = outcomeOf(ev)
		res.alreadyDecided = ev.SequenceNumber
		res.progressed = true
		return res, nil
	}
	pruned := func() (runResult, error) {
		// Deleted after creation (pruned): nothing left to decide.
		res.decided[eventID] = Outcome{Status: model.EventRejected, Reason: ReasonMalformed}
		res.progressed = true
		return res, nil
	}

	var own *versioned // the triggering event, read and undecided
	view, cached := s.sessions.get(sessionID)
	var b batch
	var versions map[string]time.Time
	if cached {
		// The window's query is the only read on the latency path; the
		// event, when the trigger did not carry it, is read beside it.
		var ownSnap *firestore.DocumentSnapshot
		var ownErr error
		var wg sync.WaitGroup
		if created == nil {
			wg.Go(func() {
				ownSnap, ownErr = ownRef.Get(ctx)
				s.Stats.add(func(st *Counters) { st.Reads++ })
			})
		}
		ownGuess := model.Event{DocID: eventID}
		if created != nil {
			ownGuess = *created
		}
		var err error
		b, versions, err = s.pending(ctx, evCol, view.doc.Sequencer.Cursor, ownGuess)
		wg.Wait()
		if err != nil {
			return res, err
		}
		if created == nil {
			switch {
			case status.Code(ownErr) == codes.NotFound:
				return pruned()
			case ownErr != nil:
				return res, fmt.Errorf("read event: %w", ownErr)
			}
			ev := s.compact(model.DecodeEvent(ownSnap))
			if ev.Status != "" {
				return decidedAlready(ev)
			}
			own = &versioned{ev, ownSnap.UpdateTime}
			// The window was cut without knowing the event's place.
			b.extra = nil
			if !slices.ContainsFunc(b.window, func(e model.Event) bool { return e.DocID == eventID }) &&
				!(b.full && ev.Ordered() && before(b.window[len(b.window)-1], ev)) {
				b.extra = []model.Event{ev}
			}
		}
	} else {
		// One round trip for both, even when the trigger carried the
		// event: without a current view this instance is likely not the
		// one that sequenced the session last, and then the event is
		// likely decided already (by that one), which this read tells at
		// once, before any query.
		refs := []*firestore.DocumentRef{sessRef, ownRef}
		snaps, err := s.fs.GetAll(ctx, refs)
		s.Stats.add(func(st *Counters) { st.Reads += int64(len(refs)) })
		if err != nil {
			return res, fmt.Errorf("read event and session: %w", err)
		}
		if !snaps[1].Exists() {
			return pruned()
		}
		ev := s.compact(model.DecodeEvent(snaps[1]))
		if ev.Status != "" {
			return decidedAlready(ev)
		}
		own = &versioned{ev, snaps[1].UpdateTime}
		sessSnap := snaps[0]
		if !sessSnap.Exists() {
			return s.rejectUnknownSession(ctx, res, ownRef, own)
		}
		view = sessionView{updateTime: sessSnap.UpdateTime}
		if err := sessSnap.DataTo(&view.doc); err != nil {
			return res, fmt.Errorf("decode session: %w", err)
		}
		s.sessions.put(sessionID, view)
		b, versions, err = s.pending(ctx, evCol, view.doc.Sequencer.Cursor, own.ev)
		if err != nil {
			return res, err
		}
	}
	res.experienceID = view.doc.ExperienceID

	for _, ev := range b.window {
		if ev.Status == "" {
			continue
		}
		if res.known == nil {
			res.known = map[string]Outcome{}
		}
		res.known[ev.DocID] = outcomeOf(ev)
	}
	if out, ok := res.known[eventID]; ok {
		// Decided by another run since: another instance's, when this
		// process's view of the session is behind (its window starts at
		// an old cursor, so it returned what others decided). Nothing to
		// commit; the view is read again next time.
		if cached {
			s.sessions.forget(sessionID)
		}
		res.decided[eventID] = out
		res.alreadyDecided = out.SequenceNumber
		res.progressed = true
		return res, nil
	}
	if cached && len(res.known) > 0 {
		// Decided events after the view's cursor: the view is most likely
		// behind, and a commit on it would be refused. Read it again now.
		return res, fmt.Errorf("%w: the view of the session is behind its events", errConflict)
	}
	if len(b.extra) > 0 {
		// The event sorts before the window, or has no order: the trigger's
		// copy cannot tell whether it was decided since. Read it.
		if own == nil {
			snap, err := ownRef.Get(ctx)
			s.Stats.add(func(st *Counters) { st.Reads++ })
			switch {
			case status.Code(err) == codes.NotFound:
				return pruned()
			case err != nil:
				return res, fmt.Errorf("read event: %w", err)
			}
			ev := s.compact(model.DecodeEvent(snap))
			if ev.Status != "" {
				return decidedAlready(ev)
			}
			own = &versioned{ev, snap.UpdateTime}
		}
		b.extra = []model.Event{own.ev}
		versions[own.ev.DocID] = own.version
	}

	p := decideBatch(view.doc.Session, view.doc.Sequencer, b, s.rules())
	res.more, res.progressed = b.full, p.moved
	res.accepted, res.decisions = p.accepted, p.decisions
	for _, d := range p.decisions {
		res.decided[d.Event.DocID] = d.Outcome
	}
	if !p.moved {
		return res, nil
	}
	//lint:ignore SA1019 a WriteBatch is the one atomic commit without a transaction (one round trip, preconditions per write); BulkWriter is not atomic.
	wb := s.fs.Batch()
	for _, d := range p.decisions {
		wb.Update(evCol.Doc(d.Event.DocID), d.Outcome.decision().Updates(), firestore.LastUpdateTime(versions[d.Event.DocID]))
	}
	next := view.doc
	wb.Update(sessRef, sessionUpdate(&next, p, s.now()), firestore.LastUpdateTime(view.updateTime))
	wrs, err := wb.Commit(ctx)
	if err != nil {
		if isConflict(err) {
			return res, fmt.Errorf("%w: %w", errConflict, err)
		}
		return res, fmt.Errorf("commit decisions: %w", err)
	}
	s.sessions.put(sessionID, sessionView{doc: next, updateTime: wrs[len(wrs)-1].UpdateTime})
	res.writes, res.sessionWrites = int64(len(wrs)), 1
	return res, nil
}

// sessionUpdate is a run's write on the session document, applied to doc
// as well (the view this process keeps of the session): the one place
// where that write is assembled, so a field added to it reaches both.
// Rejections move only the sequencer's own bookkeeping; the session's
// visible fields change when something is accepted.
func sessionUpdate(doc *model.SessionDocument, p plan, now time.Time) []firestore.Update {
	doc.Sequencer = p.state
	updates := []firestore.Update{{Path: model.FieldSequencer, Value: p.state}}
	if len(p.accepted) > 0 {
		doc.UpdatedAt, doc.LastActivityAt = now, now
		doc.LastEventID, doc.LastEventSequenceNumber = p.lastEventID, p.lastSequenceNumber
		updates = append(updates,
			firestore.Update{Path: model.FieldUpdatedAt, Value: now},
			firestore.Update{Path: model.FieldLastEventID, Value: p.lastEventID},
			firestore.Update{Path: model.FieldLastEventSequenceNumber, Value: p.lastSequenceNumber},
			firestore.Update{Path: model.FieldLastActivityAt, Value: now},
		)
	}
	return updates
}

// rejectUnknownSession rejects the triggering event of a session that does
// not exist: at its commit there was no session either, since sessions are
// created before their events. Its read version is the precondition.
func (s *Sequencer) rejectUnknownSession(ctx context.Context, res runResult, ownRef *firestore.DocumentRef, own *versioned) (runResult, error) {
	if own == nil {
		snap, err := ownRef.Get(ctx)
		s.Stats.add(func(st *Counters) { st.Reads++ })
		switch {
		case status.Code(err) == codes.NotFound:
			res.decided[ownRef.ID] = Outcome{Status: model.EventRejected, Reason: ReasonMalformed}
			res.progressed = true
			return res, nil
		case err != nil:
			return res, fmt.Errorf("read event: %w", err)
		}
		ev := s.compact(model.DecodeEvent(snap))
		if ev.Status != "" {
			res.decided[ownRef.ID] = outcomeOf(ev)
			res.alreadyDecided = ev.SequenceNumber
			res.progressed = true
			return res, nil
		}
		own = &versioned{ev, snap.UpdateTime}
	}
	out := Outcome{Status: model.EventRejected, Reason: ReasonUnknownSession}
	if _, err := ownRef.Update(ctx, out.decision().Updates(), firestore.LastUpdateTime(own.version)); err != nil {
		if isConflict(err) {
			return res, fmt.Errorf("%w: %w", errConflict, err)
		}
		return res, fmt.Errorf("reject event of unknown session: %w", err)
	}
	res.decided[ownRef.ID] = out
	res.decisions = []decision{{own.ev, out}}
	res.progressed = true
	res.writes = 1
	return res, nil
}

// isConflict reports a commit refused because what it was decided on
// changed: a stale update time (FAILED_PRECONDITION), a document deleted
// since (NOT_FOUND), or contention the database resolved against it
// (ABORTED).
func isConflict(err error) bool {
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.NotFound, codes.Aborted:
		return true
	}
	return false
}

// pending streams the window after the cursor (at most BatchSize events,
// decided or not, in order, each with the update time it was read at) and
// adds the triggering event when the window cannot hold it. Events are
// kept compact while they stream in (see compact), so one run's memory is
// bounded by BatchSize x MaxEventBytes whatever the pending documents
// weigh. Without a transaction the query reads one consistent snapshot:
// an event it does not see was committed after it, so its createdAt (its
// commit time) sorts after every event it returned.
func (s *Sequencer) pending(ctx context.Context, evCol *firestore.CollectionRef, cur model.Cursor, own model.Event) (batch, map[string]time.Time, error) {
	q := evCol.Where(model.FieldCreatedAt, ">", minTimestamp).
		OrderBy(model.FieldCreatedAt, firestore.Asc).
		OrderBy(model.FieldClientSequenceNumber, firestore.Asc).
		OrderBy(firestore.DocumentID, firestore.Asc).
		Limit(s.opts.BatchSize + 1)
	if !isZero(cur) {
		q = q.StartAfter(cur.CreatedAt, cur.ClientSequenceNumber, cur.EventID)
	}
	var b batch
	versions := map[string]time.Time{}
	it := q.Documents(ctx)
	defer it.Stop()
	read := int64(0)
	seenOwn := false
	for {
		d, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			s.Stats.add(func(st *Counters) { st.Reads += max(read, 1) })
			return batch{}, nil, fmt.Errorf("query pending events: %w", err)
		}
		read++
		if len(b.window) == s.opts.BatchSize {
			b.full = true
			break
		}
		ev := s.compact(model.DecodeEvent(d))
		seenOwn = seenOwn || ev.DocID == own.DocID
		b.window = append(b.window, ev)
		versions[ev.DocID] = d.UpdateTime
	}
	s.Stats.add(func(st *Counters) { st.Reads += max(read, 1) })
	// The triggering event waits for a later run only when it sorts after
	// a full window: that run reaches it in order.
	if !seenOwn && !(b.full && own.Ordered() && before(b.window[len(b.window)-1], own)) {
		b.extra = append(b.extra, own)
	}
	return b, versions, nil
}

// compact drops what a decision does not need: the data of an event too
// large to accept, and of an event decided already (only its place counts).
func (s *Sequencer) compact(ev model.Event) model.Event {
	if ev.Size > s.opts.MaxEventBytes || ev.Status != "" {
		ev.Data = nil
	}
	return ev
}

func (s *Sequencer) rules() rules {
	return rules{maxEventBytes: s.opts.MaxEventBytes, sender: s.opts.SenderLimit, session: s.opts.SessionLimit, lookup: s.reg.Lookup}
}

// decision is the outcome as the event document stores it.
func (o Outcome) decision() model.Decision {
	return model.Decision{Status: o.Status, RejectReason: string(o.Reason), SequenceNumber: o.SequenceNumber}
}

// logDecisions logs what a committed run decided: after the commit, so an
// aborted attempt never logs a number its retry gave to another event.
func (s *Sequencer) logDecisions(ctx context.Context, sessionID string, ds []decision) {
	if s.log == nil {
		return
	}
	for _, d := range ds {
		s.log.InfoContext(ctx, "event decided",
			logging.KeySessionID, sessionID, logging.KeyEventID, d.Event.DocID,
			logging.KeySequenceNumber, d.Outcome.SequenceNumber, logging.KeyOutcome, d.Outcome.Status,
			logging.KeyReason, string(d.Outcome.Reason), "type", d.Event.Type)
	}
}

func outcomeOf(ev model.Event) Outcome {
	return Outcome{Status: ev.Status, Reason: RejectReason(ev.RejectReason), SequenceNumber: ev.SequenceNumber}
}
