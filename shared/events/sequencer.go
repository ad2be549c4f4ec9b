package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// Settle is how long after its createdAt an event may still become
	// visible (0: never; see Settle in the package doc). Runs compare it
	// with Clock, which must then follow the store's clock.
	Settle time.Duration
	// Clock stamps updatedAt and lastActivityAt (default time.Now).
	Clock func() time.Time
	// Publisher fans accepted events out once committed; nil switches the
	// fan-out off.
	Publisher Publisher
	// Logger receives one line per decision, after its commit; nil logs
	// nothing.
	Logger *slog.Logger
}

// DefaultOptions are generous enough for people: 20 events/s per sender
// and 100 per session sustained (see EventLimit for the bursts). BatchSize
// is capped at MaxBatchSize.
func DefaultOptions() Options {
	return Options{
		BatchSize:     200,
		MaxEventBytes: 16 << 10,
		SenderLimit:   EventLimit(20),
		SessionLimit:  EventLimit(100),
		MaxAttempts:   20,
	}
}

// MaxBatchSize bounds Options.BatchSize: one run writes each decided event
// and the session in one commit, and Firestore allows 500 writes in one; the
// margin keeps room for the session and the publish cursor.
const MaxBatchSize = 450

// EventLimit is the event rate limit for a sustained rate: bursts of twice
// as many, so a person's quick gestures pass and a flood does not.
func EventLimit(perSecond float64) ratelimit.Limit {
	return ratelimit.Limit{PerSecond: perSecond, Burst: 2 * perSecond}
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
	// sessions is what this process published last, per session.
	sessions *sessionCache
	// Counters (Firestore operations, session writes, transaction attempts)
	// for the benchmark and the logs.
	Stats *Stats
}

// NewSequencer returns a Sequencer; zero fields of opts (or a nil opts)
// take DefaultOptions.
func NewSequencer(fs *firestore.Client, reg *experiences.Registry, opts *Options) *Sequencer {
	o := DefaultOptions()
	if opts != nil {
		o.Publisher, o.Logger = opts.Publisher, opts.Logger
		if opts.BatchSize > 0 {
			o.BatchSize = min(opts.BatchSize, MaxBatchSize)
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
		o.Clock, o.Settle = opts.Clock, max(opts.Settle, 0)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Sequencer{fs: fs, reg: reg, pub: o.Publisher, opts: o, log: o.Logger, lanes: newLanes(), sessions: newSessionCache(), Stats: &Stats{}}
}

// Sequence makes sure the event eventID of session sessionID is decided,
// together with whatever else is pending in that session, and returns its
// outcome. It is safe to call any number of times, concurrently, for the
// same event.
func (s *Sequencer) Sequence(ctx context.Context, sessionID, eventID string) (Outcome, error) {
	return s.sequence(ctx, sessionID, eventID, nil)
}

// SequenceCreated is Sequence for a trigger that carries its event as it
// was created, as a Firestore CloudEvent does. While the trigger waits on
// its session's lane, the copy waits there too, and a run of the instance
// that moved the session's cursor last decides the copies without reading
// them, when one count aggregation shows nothing else is pending before
// the last of them (see carriedWindow). A malformed copy is carried too,
// to be rejected like the same document read. A copy with no order, no
// update time, or created with a status is not carried: its event is read,
// as Sequence reads it. Nor is one whose clientSequenceNumber is not an
// integer (as the rules require of clients; an admin write may differ):
// the window query orders by that field, so may leave such a document out
// or place it otherwise than compareEvents does, and the count would then
// stand for a pending event no trigger carried.
func (s *Sequencer) SequenceCreated(ctx context.Context, sessionID string, created model.Event) (Outcome, error) {
	var c *model.Event
	_, intSeq := created.RawClientSequenceNumber.(int64)
	if created.Status == "" && created.DocID != "" && created.Ordered() && intSeq && !created.UpdateTime.IsZero() {
		ev := s.compact(created)
		c = &ev
	}
	return s.sequence(ctx, sessionID, created.DocID, c)
}

func (s *Sequencer) sequence(ctx context.Context, sessionID, eventID string, created *model.Event) (Outcome, error) {
	lane := s.lanes.acquire(sessionID, created)
	defer s.lanes.release(sessionID, lane, created)
	for {
		out, until, done, err := s.step(ctx, lane, sessionID, eventID, created != nil)
		if err != nil || done {
			return out, err
		}
		if err := s.wait(ctx, until); err != nil {
			return Outcome{}, err
		}
	}
}

// wait returns at until (by the clock), off the lane, so the session's
// other triggers run meanwhile.
func (s *Sequencer) wait(ctx context.Context, until time.Time) error {
	d := until.Sub(s.now())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("wait for events to settle: %w", context.Cause(ctx))
	case <-t.C:
		return nil
	}
}

// step is one turn on the session's lane: a cached decision, or one run
// and its publication. Decisions are cached only once published, so a
// trigger retried after a failed publish publishes again. Not done, the
// next turn comes at until (zero: at once).
func (s *Sequencer) step(ctx context.Context, lane *lane, sessionID, eventID string, carries bool) (out Outcome, until time.Time, done bool, err error) {
	lane.mu.Lock()
	defer lane.mu.Unlock()
	if out, ok := lane.decided[eventID]; ok {
		s.Stats.add(func(st *Counters) { st.CachedTriggers++ })
		return out, time.Time{}, true, nil
	}
	if until := lane.held[eventID]; s.now().Before(until) {
		// The lane's last run held this event (Settle): a run before then
		// would hold it again, a transaction per trigger of a burst.
		return Outcome{}, until, false, nil
	}
	var carried func() []model.Event
	if carries {
		carried = func() []model.Event { return s.lanes.undecidedCarried(lane) }
	}
	res, err := s.run(ctx, sessionID, eventID, carried)
	if c := status.Code(err); carries && (c == codes.NotFound || c == codes.FailedPrecondition) {
		// A carried event was deleted or changed after its trigger fired,
		// so its decision was not written: only what is stored can say
		// what is left to decide.
		res, err = s.run(ctx, sessionID, eventID, nil)
	}
	if err != nil {
		return Outcome{}, time.Time{}, false, err
	}
	if err := s.publish(ctx, sessionID, res); err != nil {
		// The events are decided; the publish cursor stays behind them,
		// so the next run, or this trigger's retry, publishes them.
		return Outcome{}, time.Time{}, false, err
	}
	lane.remember(res.decided)
	if res.readWindow {
		lane.held = res.holds
	}
	out, ok := res.decided[eventID]
	switch {
	case ok:
		return out, time.Time{}, true, nil
	case !res.heldUntil.IsZero():
		// The event, or one before it, is too young to pass (Settle).
		return Outcome{}, res.heldUntil, false, nil
	case !res.more:
		return Outcome{}, time.Time{}, false, fmt.Errorf("event %s/%s was not decided by a run", sessionID, eventID)
	case !res.progressed:
		return Outcome{}, time.Time{}, false, fmt.Errorf("session %s, event %s: %w", sessionID, eventID, ErrNoProgress)
	}
	return Outcome{}, time.Time{}, false, nil
}

// runResult is what one run committed.
type runResult struct {
	decided      map[string]Outcome
	decisions    []decision    // in the order decided, for the log
	accepted     []model.Event // in sequence order
	experienceID string
	// more is true when the batch was full and pending events remain.
	more bool
	// heldUntil, when not zero, says the run left events pending for being
	// too young (Options.Settle): the triggering event may pass then, and
	// each of them at its time in holds.
	heldUntil time.Time
	holds     map[string]time.Time
	// readWindow says the run queried the window, so holds is current.
	readWindow bool
	// late counts the events decided behind the cursor, out of order.
	late int64
	// progressed is true when the run decided something or moved the
	// cursor: a full batch that did neither would be run again for ever.
	progressed bool
	// alreadyDecided is the number of the triggering event when an earlier
	// run had accepted it: its publication may still be owed.
	alreadyDecided int64
	// cursor is the session's cursor once committed, when the run read
	// the session; moved says the run wrote the session.
	cursor model.Cursor
	moved  bool
	// ownPending says the window held the triggering event, or the event
	// sorts after a full one.
	ownPending bool
	// carried says the window was the triggers' copies, not read;
	// couldCarry that the window read held nothing up to the last carried
	// event that the triggers did not carry, so a count would have done.
	carried, couldCarry bool
}

// ErrNoProgress reports a run that had more to do but could not move: a
// bug, not an input, since every run passes its whole window. The delivery
// fails, and its retry backs off.
var ErrNoProgress = errors.New("sequencing made no progress")

// minTimestamp is the earliest Firestore timestamp. A range filter after
// it keeps the pending query to events whose createdAt is a timestamp, so
// no event without an order (written by an admin with another type) can
// sit in the window: those are decided by their own trigger.
var minTimestamp = time.Time{}

// run is the transactional shell around decideBatch: read the triggering
// event, the session and the pending window, decide, write the decisions
// and the session. Nothing here logs or counts inside the transaction
// body except reads as they are made; the caller logs what was committed.
//
// carried returns the events the lane's waiting triggers carry now (see
// SequenceCreated; nil: none do). A run that trusts its view, and whose
// session's last window held nothing the triggers did not carry, counts
// instead of reading them (see carriedWindow).
func (s *Sequencer) run(ctx context.Context, sessionID, eventID string, carried func() []model.Event) (runResult, error) {
	sessRef := model.SessionRef(s.fs, sessionID)
	evCol := model.EventsRef(sessRef)
	view, hasView := s.sessions.views.get(sessionID)
	trusted := hasView && view.trusted
	carry := trusted && view.carry.counts() && carried != nil
	var res runResult
	// seen is the cursor the last attempt read on the session (ok: it
	// read one), for the next view.
	var seen struct {
		cursor model.Cursor
		ok     bool
	}
	// Writes count once committed; an aborted attempt's writes never
	// happened (its reads did, and are counted as they are made).
	attempts, writes, sessionWrites := 0, int64(0), int64(0)
	// misses counts the committed attempt's carried windows that a count
	// refuted.
	misses := int64(0)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		attempts++
		// Taken before the first read locks the session: a write that
		// waits for this transaction was stamped after it (see Settle).
		start := s.now()
		writes, sessionWrites = 0, 0
		res = runResult{decided: map[string]Outcome{}}
		misses = 0
		seen.ok = false
		// One round trip for the session and, unless this process was the
		// last to sequence the session, the event: with K instances the
		// event is mostly decided already, and this read answers that
		// before any query. (The trigger's CloudEvent carries the event as
		// created, but not whether it was decided since. Measured: taking
		// the copy instead cost scenario 9 more than the read it saved.)
		// When the view is trusted, the event is almost always pending,
		// and the window read next holds it: it is read on its own only
		// when the window does not.
		refs := []*firestore.DocumentRef{sessRef, evCol.Doc(eventID)}
		if trusted {
			refs = refs[:1]
		}
		snaps, err := tx.GetAll(refs)
		s.Stats.add(func(st *Counters) { st.Reads += int64(len(refs)); st.ReadRoundTrips++ })
		if err != nil {
			return fmt.Errorf("read session: %w", err)
		}
		sessSnap, ownSnap := snaps[0], (*firestore.DocumentSnapshot)(nil)
		if len(snaps) > 1 {
			ownSnap = snaps[1]
		}
		var stored model.SessionDocument
		if sessSnap.Exists() {
			if err := sessSnap.DataTo(&stored); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			seen.cursor, seen.ok = stored.Sequencer.Cursor, true
			res.cursor = stored.Sequencer.Cursor
		}
		var w window
		if ownSnap == nil && sessSnap.Exists() {
			if carry {
				counted := false
				if w, res.carried, counted = s.carriedWindow(ctx, tx, evCol, stored.Sequencer.Cursor, eventID, carried(), start); w.err != nil {
					return w.err
				}
				if counted && !res.carried {
					misses++
				}
			}
			if !res.carried {
				if w = s.readWindow(tx, evCol, stored.Sequencer.Cursor, start); w.err != nil {
					return w.err
				}
				res.couldCarry = carried != nil && couldCarry(w, stored.Sequencer.Cursor, carried())
			}
		}
		// found: the triggering event was read (in the window or on its
		// own) and exists.
		ownEv, found := w.find(eventID)
		// Past a full window, the event waits for the runs that reach it
		// in order (the step repeats them), and is read only then.
		ownLater := w.full && !found
		res.ownPending = found || ownLater
		if ownSnap == nil && !found && !ownLater {
			// Not pending after the cursor (decided, late, or deleted), or
			// no session: read it.
			own, err := tx.GetAll([]*firestore.DocumentRef{evCol.Doc(eventID)})
			s.Stats.add(func(st *Counters) { st.Reads++; st.ReadRoundTrips++ })
			if err != nil {
				return fmt.Errorf("read event: %w", err)
			}
			ownSnap = own[0]
		}
		if ownSnap != nil {
			ownEv, found = model.Event{}, ownSnap.Exists()
			if found {
				ownEv = s.compact(model.DecodeEvent(ownSnap))
			}
		}
		if !ownLater && s.ownDecided(&res, eventID, ownEv, found) {
			return nil
		}
		if !sessSnap.Exists() {
			out := Outcome{Status: model.EventRejected, Reason: ReasonUnknownSession}
			res.decided[eventID] = out
			res.decisions = []decision{{ownEv, out}}
			res.progressed = true
			writes++
			return tx.Update(evCol.Doc(eventID), out.decision(ownEv).Updates())
		}
		res.experienceID = stored.ExperienceID

		if !trusted {
			if w = s.readWindow(tx, evCol, stored.Sequencer.Cursor, start); w.err != nil {
				return w.err
			}
			_, res.ownPending = w.find(eventID)
			res.couldCarry = carried != nil && couldCarry(w, stored.Sequencer.Cursor, carried())
		}
		b := w.ready()
		if !ownLater {
			b = w.batch(ownEv)
		}
		p := decideBatch(stored.Session, stored.Sequencer, b, s.rules())
		res.more, res.progressed, res.moved = b.full, p.moved, p.moved
		res.readWindow = true
		if w.held > 0 {
			var past time.Time
			res.holds, past = w.holds(start, s.opts.Settle)
			if res.heldUntil = res.holds[eventID]; res.heldUntil.IsZero() {
				res.heldUntil = past
			}
		}
		res.accepted, res.decisions, res.late = p.accepted, p.decisions, p.late
		res.cursor = p.state.Cursor
		for _, d := range p.decisions {
			res.decided[d.Event.DocID] = d.Outcome
			writes++
			var pre []firestore.Precondition
			if res.carried {
				// Decided from its copy: only if it is the document as
				// created, never one decided or rewritten since (an admin's).
				pre = append(pre, firestore.LastUpdateTime(d.Event.UpdateTime))
			}
			if err := tx.Update(evCol.Doc(d.Event.DocID), d.Outcome.decision(d.Event).Updates(), pre...); err != nil {
				return err
			}
		}
		if !p.moved {
			return nil
		}
		writes++
		sessionWrites++
		return tx.Update(sessRef, sessionUpdate(p, s.now()))
	}, firestore.MaxAttempts(s.opts.MaxAttempts))
	s.Stats.add(func(st *Counters) { st.Transactions++; st.TransactionAttempts += int64(attempts) })
	if err != nil {
		return runResult{}, fmt.Errorf("sequence session %s: %w", sessionID, err)
	}
	if seen.ok {
		// Trusted once a run of this process moves the cursor from where
		// this process last left it (nobody else sequenced in between)
		// and finds its event pending in the window. A run that decides
		// nothing is mostly a trigger another instance answered; an event
		// missing from the window, one that became visible after the
		// cursor passed its place (concurrent writers on the emulator):
		// either way the next run reads its event first.
		s.sessions.views.set(sessionID, cursorView{cursor: res.cursor,
			trusted: res.moved && res.ownPending && (!hasView || sameCursor(view.cursor, seen.cursor)),
			carry:   view.carry.next(res.carried, misses > 0, res.couldCarry)})
	}
	stale := trusted && seen.ok && !sameCursor(view.cursor, seen.cursor)
	s.Stats.add(func(st *Counters) {
		if stale {
			st.StaleViews++
		}
		if !res.heldUntil.IsZero() {
			st.HeldRuns++
		}
		if res.carried {
			st.CarriedRuns++
		}
		st.CarriedMisses += misses
		st.LateEvents += res.late
		st.Writes += writes
		st.SessionWrites += sessionWrites
		if writes > 0 {
			st.Decided += int64(len(res.decided))
			st.Accepted += int64(len(res.accepted))
		}
	})
	s.logDecisions(ctx, sessionID, res.decisions, res.carried)
	if res.late > 0 && s.log != nil {
		// Production's queries see every commit before a run; on the
		// emulator, a write held up longer than Settle (see Settle).
		s.log.WarnContext(ctx, "events decided behind the cursor, out of createdAt order",
			logging.KeySessionID, sessionID, "late", res.late, "settle", s.opts.Settle.String())
	}
	return res, nil
}

// carriedWindow is the window up to the last carried event after the
// cursor, for a run that began at start and triggered by eventID, when it
// is exactly the carried events there: then they need not be read.
//
// A copy says what was created, not whether it was decided since. The
// cursor, read in this transaction, says most of it: runs decide in order
// and the cursor passes all they decide, so a client's event after it is
// pending. (An admin may write an event a trigger rejects on its own, for
// a session that does not exist yet, or rewrite one: each decision from a
// copy is written only if the document's update time is the copy's, and
// the caller runs again without copies when one is not.) One count
// aggregation over the events from the cursor to the last carried one (a
// read per 1,000 index entries) tells the rest: the carried events are in
// that range, so if it holds as many as there are carried, it holds
// nothing else. Events after the last carried one are left to their own
// triggers, which come.
//
// ok is false when the triggering event's copy is not after the cursor (a
// redelivery: it is read), or when the count differs (events whose
// triggers have not come or were lost, or a carried event deleted): the
// caller reads the window then; counted says a count was made.
func (s *Sequencer) carriedWindow(ctx context.Context, tx *firestore.Transaction, evCol *firestore.CollectionRef, cur model.Cursor, eventID string, carried []model.Event, start time.Time) (w window, ok, counted bool) {
	evs := make([]model.Event, 0, len(carried))
	own := false
	for _, ev := range carried {
		if after(cur, ev) {
			evs = append(evs, ev)
			own = own || ev.DocID == eventID
		}
	}
	if !own {
		return window{}, false, false
	}
	slices.SortFunc(evs, compareEvents)
	w.events = evs
	if len(evs) > s.opts.BatchSize {
		w.events, w.full = evs[:s.opts.BatchSize], true
	}
	last := w.events[len(w.events)-1]
	n, err := s.count(ctx, windowQuery(evCol, cur).EndAt(last.CreatedAt, rawSeq(last), last.DocID), tx)
	s.Stats.add(func(st *Counters) { st.ReadRoundTrips++ })
	if err != nil {
		return window{err: err}, false, true
	}
	if n != int64(len(w.events)) {
		return window{}, false, true
	}
	w.hold(start, s.opts.Settle)
	return w, true, true
}

// couldCarry reports whether a carried window would have stood for w,
// read after the cursor cur: some carried event is after the cursor, and
// every event of w up to the last of them was carried, with the place its
// copy gives it. (Clients cannot change an event once created, so a copy
// sorts where its event does; one that does not, an admin's rewrite, stops
// the next run from counting, and its decision's update-time precondition
// fails in any case.)
func couldCarry(w window, cur model.Cursor, carried []model.Event) bool {
	ids := make(map[string]model.Event, len(carried))
	var last model.Event
	for _, ev := range carried {
		if after(cur, ev) {
			ids[ev.DocID] = ev
			if len(ids) == 1 || before(last, ev) {
				last = ev
			}
		}
	}
	if len(ids) == 0 || len(w.events) == 0 {
		return false
	}
	if w.full && before(w.events[len(w.events)-1], last) {
		return false // the window cannot tell what lies before last
	}
	for _, e := range w.events {
		c, ok := ids[e.DocID]
		if ok && compareEvents(c, e) != 0 {
			return false
		}
		if before(last, e) {
			continue // left to its own trigger; a copy still has to match
		}
		if !ok {
			return false
		}
	}
	return true
}

// windowQuery is the events after the cursor in the order they are
// decided in.
func windowQuery(evCol *firestore.CollectionRef, cur model.Cursor) firestore.Query {
	q := evCol.Where(model.FieldCreatedAt, ">", minTimestamp).
		OrderBy(model.FieldCreatedAt, firestore.Asc).
		OrderBy(model.FieldClientSequenceNumber, firestore.Asc).
		OrderBy(firestore.DocumentID, firestore.Asc)
	if !isZero(cur) {
		q = q.StartAfter(cur.CreatedAt, cur.ClientSequenceNumber, cur.EventID)
	}
	return q
}

// window is what the pending query returned: every event after the
// cursor, decided or not, in order, at most BatchSize of them.
type window struct {
	events []model.Event
	// full says the query found more than BatchSize.
	full bool
	// held is how many of events, at the end, a run must leave pending
	// (see held).
	held int
	err  error
}

// ready is the batch of the events a run may pass now.
func (w window) ready() batch {
	return batch{window: w.events[:len(w.events)-w.held], full: w.full && w.held == 0}
}

// holds returns when each held event may pass, for a run that began at
// start, and when an event past the window may: Settle after its own stamp
// or, for an admin's time far ahead, after the last held event a request
// stamped. A trigger waits once, for its own event, not once per event
// held before it.
func (w window) holds(start time.Time, settle time.Duration) (map[string]time.Time, time.Time) {
	limit := start.Add(settle)
	m := make(map[string]time.Time, w.held)
	var last time.Time
	// In order: the held events a request stamped come first (the first
	// is one, see held), an admin's times far ahead after them.
	for _, e := range w.events[len(w.events)-w.held:] {
		if !e.CreatedAt.After(limit) {
			last = heldUntil(e, settle)
		}
		m[e.DocID] = last
	}
	return m, last
}

// find returns the window's event id.
func (w window) find(id string) (model.Event, bool) {
	i := slices.IndexFunc(w.events, func(e model.Event) bool { return e.DocID == id })
	if i < 0 {
		return model.Event{}, false
	}
	return w.events[i], true
}

// batch adds the triggering event when the window cannot hold it: it
// waits for a later run only when it sorts after a full window, and that
// run reaches it in order.
func (w window) batch(own model.Event) batch {
	b := w.ready()
	if _, ok := w.find(own.DocID); ok {
		return b
	}
	cut := w.full || w.held > 0
	if !(cut && own.Ordered() && before(w.events[len(w.events)-1], own)) {
		b.extra = append(b.extra, own)
	}
	return b
}

// readWindow queries the window after the cursor, for a run that began at
// start. Events are kept compact while they stream in (see compact), so one
// run's memory is bounded by BatchSize x MaxEventBytes whatever the pending
// documents weigh.
func (s *Sequencer) readWindow(tx *firestore.Transaction, evCol *firestore.CollectionRef, cur model.Cursor, start time.Time) window {
	it := tx.Documents(windowQuery(evCol, cur).Limit(s.opts.BatchSize + 1))
	defer it.Stop()
	var w window
	read := int64(0)
	// A query is billed one read even when it returns nothing.
	defer func() { s.Stats.add(func(st *Counters) { st.Reads += max(read, 1); st.ReadRoundTrips++ }) }()
	for {
		d, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return window{err: fmt.Errorf("query pending events: %w", err)}
		}
		read++
		if len(w.events) == s.opts.BatchSize {
			w.full = true
			break
		}
		w.events = append(w.events, s.compact(model.DecodeEvent(d)))
	}
	w.hold(start, s.opts.Settle)
	return w
}

// hold cuts the window at its first event too young to pass, for a run
// that began at start.
func (w *window) hold(start time.Time, settle time.Duration) {
	if settle <= 0 {
		return
	}
	w.held = held(w.events, start.Add(-settle), start.Add(settle))
}

// ownDecided looks at the triggering event as read (exists: it was found):
// done when it needs no run (deleted, or decided already), with res filled
// in.
func (s *Sequencer) ownDecided(res *runResult, eventID string, ev model.Event, exists bool) bool {
	if !exists {
		// Deleted after creation (pruned): nothing left to decide.
		res.decided[eventID] = Outcome{Status: model.EventRejected, Reason: ReasonMalformed}
		res.progressed = true
		return true
	}
	if ev.Status != "" {
		res.decided[eventID] = outcomeOf(ev)
		res.alreadyDecided = ev.SequenceNumber
		res.progressed = true
		return true
	}
	return false
}

// sessionUpdate is a run's write on the session document: the one place
// where it is assembled. Rejections move only the sequencer's own
// bookkeeping; the session's visible fields change when something is
// accepted.
func sessionUpdate(p plan, now time.Time) []firestore.Update {
	updates := []firestore.Update{{Path: model.FieldSequencer, Value: p.state}}
	if len(p.accepted) > 0 {
		updates = append(updates,
			firestore.Update{Path: model.FieldUpdatedAt, Value: now},
			firestore.Update{Path: model.FieldLastEventID, Value: p.lastEventID},
			firestore.Update{Path: model.FieldLastEventSequenceNumber, Value: p.lastSequenceNumber},
			firestore.Update{Path: model.FieldLastActivityAt, Value: now},
			// Marks the session for compactSnapshots, in the write that
			// passes the snapshot: no write of its own.
			firestore.Update{Path: model.FieldCompactionDue, Value: true},
		)
	}
	return updates
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

// decision is the outcome as the event document of ev stores it: a
// rejected event near Firestore's document limit loses its data, so the
// decision fits.
func (o Outcome) decision(ev model.Event) model.Decision {
	return model.Decision{Status: o.Status, RejectReason: string(o.Reason), SequenceNumber: o.SequenceNumber,
		DropData: o.Status == model.EventRejected && ev.Size > model.DropDataAbove}
}

// logDecisions logs what a committed run decided: after the commit, so an
// aborted attempt never logs a number its retry gave to another event.
// fromCopy says the run decided the triggers' copies (see carriedWindow).
func (s *Sequencer) logDecisions(ctx context.Context, sessionID string, ds []decision, fromCopy bool) {
	if s.log == nil {
		return
	}
	for _, d := range ds {
		s.log.InfoContext(ctx, "event decided",
			logging.KeySessionID, sessionID, logging.KeyEventID, d.Event.DocID,
			logging.KeySequenceNumber, d.Outcome.SequenceNumber, logging.KeyOutcome, d.Outcome.Status,
			logging.KeyReason, string(d.Outcome.Reason), "type", d.Event.Type, logging.KeyFromCopy, fromCopy)
	}
}

func outcomeOf(ev model.Event) Outcome {
	return Outcome{Status: ev.Status, Reason: RejectReason(ev.RejectReason), SequenceNumber: ev.SequenceNumber}
}
