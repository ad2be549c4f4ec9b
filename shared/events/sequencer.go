package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/logging"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
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
	// MaxAttempts bounds the transaction's attempts under contention.
	MaxAttempts int
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
	Event
	ExperienceID string
}

// Sequencer decides and numbers the events of sessions.
type Sequencer struct {
	fs    *firestore.Client
	reg   *experiences.Registry
	pub   Publisher // nil: no fan-out
	opts  Options
	log   *slog.Logger
	lanes *lanes
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
	}
	return &Sequencer{fs: fs, reg: reg, pub: pub, opts: o, log: log, lanes: newLanes(), Stats: &Stats{}}
}

// Sequence makes sure the event eventID of session sessionID is decided,
// together with whatever else is pending in that session, and returns its
// outcome. It is safe to call any number of times, concurrently, for the
// same event.
func (s *Sequencer) Sequence(ctx context.Context, sessionID, eventID string) (Outcome, error) {
	lane := s.lanes.acquire(sessionID)
	defer s.lanes.release(sessionID, lane)
	for {
		out, done, err := s.step(ctx, lane, sessionID, eventID)
		if err != nil || done {
			return out, err
		}
	}
}

// step is one turn on the session's lane: a cached decision, or one run
// and its publication. Decisions are cached only once published, so a
// trigger retried after a failed publish publishes again.
func (s *Sequencer) step(ctx context.Context, lane *lane, sessionID, eventID string) (Outcome, bool, error) {
	lane.mu.Lock()
	defer lane.mu.Unlock()
	if out, ok := lane.decided[eventID]; ok {
		s.Stats.add(func(st *Counters) { st.CachedTriggers++ })
		return out, true, nil
	}
	res, err := s.run(ctx, sessionID, eventID)
	if err != nil {
		return Outcome{}, false, err
	}
	if err := s.publish(ctx, sessionID, res); err != nil {
		// The events are decided; the publish cursor stays behind them,
		// so the next run, or this trigger's retry, publishes them.
		return Outcome{}, false, err
	}
	lane.remember(res.decided)
	out, ok := res.decided[eventID]
	if !ok && !res.more {
		return Outcome{}, false, fmt.Errorf("event %s/%s was not decided by a run", sessionID, eventID)
	}
	return out, ok, nil
}

// runResult is what one transaction decided.
type runResult struct {
	decided      map[string]Outcome
	accepted     []Event // in sequence order
	experienceID string
	// more is true when the batch was full and pending events remain.
	more bool
	// alreadyDecided is the number of the triggering event when an earlier
	// run had accepted it: its publication may still be owed.
	alreadyDecided int64
}

// sequencerState is what the session document keeps for the sequencer.
type sequencerState struct {
	// Cursor is the position, in the session's order, of the last event
	// decided in order: every event committed later sorts after it.
	Cursor cursor `firestore:"cursor"`
	// Session is the session's rate bucket; Senders those of each sender.
	Session ratelimit.Bucket             `firestore:"session"`
	Senders map[string]*ratelimit.Bucket `firestore:"senders"`
}

type cursor struct {
	CreatedAt            time.Time `firestore:"createdAt"`
	ClientSequenceNumber int64     `firestore:"clientSequenceNumber"`
	EventID              string    `firestore:"eventId"`
}

func (c cursor) isZero() bool { return c.EventID == "" }

// after reports whether e sorts after the cursor.
func (c cursor) after(e Event) bool {
	return c.isZero() || before(Event{CreatedAt: c.CreatedAt, ClientSequenceNumber: c.ClientSequenceNumber, DocID: c.EventID}, e)
}

func (s *Sequencer) run(ctx context.Context, sessionID, eventID string) (runResult, error) {
	sessRef := s.fs.Collection(sessions.SessionsCollection).Doc(sessionID)
	evCol := sessRef.Collection(sessions.EventsCollection)
	var res runResult
	// Writes count once committed; an aborted attempt's writes never
	// happened (its reads did, and are counted as they are made).
	attempts, writes, sessionWrites := 0, int64(0), int64(0)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		attempts++
		writes, sessionWrites = 0, 0
		res = runResult{decided: map[string]Outcome{}}
		// One round trip for both: the event is almost always undecided,
		// and then the session is needed anyway. This is on the latency
		// path of every event.
		snaps, err := tx.GetAll([]*firestore.DocumentRef{evCol.Doc(eventID), sessRef})
		s.Stats.add(func(st *Counters) { st.Reads += 2 })
		if err != nil {
			return fmt.Errorf("read event and session: %w", err)
		}
		own, sessSnap := snaps[0], snaps[1]
		if !own.Exists() {
			// Deleted after creation (pruned): nothing left to decide.
			res.decided[eventID] = Outcome{Status: StatusRejected, Reason: ReasonMalformed}
			return nil
		}
		ownEv := fromSnapshot(own)
		if ownEv.Status != "" {
			res.decided[eventID] = outcomeOf(ownEv)
			res.alreadyDecided = ownEv.SequenceNumber
			return nil
		}
		if !sessSnap.Exists() {
			res.decided[eventID] = Outcome{Status: StatusRejected, Reason: ReasonUnknownSession}
			writes++
			return s.writeDecision(tx, evCol.Doc(eventID), ownEv, res.decided[eventID])
		}
		var sess sessions.Session
		if err := sessSnap.DataTo(&sess); err != nil {
			return fmt.Errorf("decode session: %w", err)
		}
		var stored struct {
			Sequencer sequencerState `firestore:"sequencer"`
		}
		if err := sessSnap.DataTo(&stored); err != nil {
			return fmt.Errorf("decode sequencer state: %w", err)
		}
		st := stored.Sequencer
		if st.Senders == nil {
			st.Senders = map[string]*ratelimit.Bucket{}
		}
		res.experienceID = sess.ExperienceID

		pending, more, err := s.pending(tx, evCol, st.Cursor, ownEv)
		if err != nil {
			return err
		}
		res.more = more

		next := sess.LastEventSequenceNumber
		var lastID string
		for _, ev := range pending {
			out := s.decide(&sess, &st, ev)
			if out.Status == StatusAccepted {
				next++
				out.SequenceNumber = next
				lastID = ev.DocID
				ev.Status, ev.SequenceNumber = out.Status, out.SequenceNumber
				res.accepted = append(res.accepted, ev)
			}
			res.decided[ev.DocID] = out
			writes++
			if err := s.writeDecision(tx, evCol.Doc(ev.DocID), ev, out); err != nil {
				return err
			}
			// Only events in order move the cursor; a late event decided
			// out of order (it sorts before the cursor) does not move it
			// back.
			if ev.malformed == nil && st.Cursor.after(ev) {
				st.Cursor = cursor{CreatedAt: ev.CreatedAt, ClientSequenceNumber: ev.ClientSequenceNumber, EventID: ev.DocID}
			}
		}
		if len(pending) == 0 {
			return nil
		}
		st.forgetFullBuckets(s.opts.SenderLimit)
		// Rejections move only the sequencer's own bookkeeping; the
		// session's visible fields change when something is accepted.
		updates := []firestore.Update{{Path: "sequencer", Value: st}}
		if lastID != "" {
			now := time.Now()
			updates = append(updates,
				firestore.Update{Path: "updatedAt", Value: now},
				firestore.Update{Path: "lastEventId", Value: lastID},
				firestore.Update{Path: "lastEventSequenceNumber", Value: next},
				firestore.Update{Path: "lastActivityAt", Value: now},
			)
		}
		writes++
		sessionWrites++
		return tx.Update(sessRef, updates)
	}, firestore.MaxAttempts(s.opts.MaxAttempts))
	s.Stats.add(func(st *Counters) { st.Transactions++; st.TransactionAttempts += int64(attempts) })
	if err != nil {
		return runResult{}, fmt.Errorf("sequence session %s: %w", sessionID, err)
	}
	s.Stats.add(func(st *Counters) {
		st.Writes += writes
		st.SessionWrites += sessionWrites
		if writes > 0 {
			st.Decided += int64(len(res.decided))
			st.Accepted += int64(len(res.accepted))
		}
	})
	return res, nil
}

// pending returns the undecided events after the cursor, in order, at most
// BatchSize of them. The triggering event is added when the query cannot
// return it: it sorts before the cursor (committed late, or written with an
// old createdAt by an admin), or has no createdAt to order by.
func (s *Sequencer) pending(tx *firestore.Transaction, evCol *firestore.CollectionRef, cur cursor, own Event) ([]Event, bool, error) {
	q := evCol.OrderBy("createdAt", firestore.Asc).
		OrderBy("clientSequenceNumber", firestore.Asc).
		OrderBy(firestore.DocumentID, firestore.Asc).
		Limit(s.opts.BatchSize + 1)
	if !cur.isZero() {
		q = q.StartAfter(cur.CreatedAt, cur.ClientSequenceNumber, cur.EventID)
	}
	docs, err := tx.Documents(q).GetAll()
	s.Stats.add(func(st *Counters) { st.Reads += int64(max(len(docs), 1)) })
	if err != nil {
		return nil, false, fmt.Errorf("query pending events: %w", err)
	}
	more := len(docs) > s.opts.BatchSize
	if more {
		docs = docs[:s.opts.BatchSize]
	}
	var out []Event
	seenOwn := false
	for _, d := range docs {
		ev := fromSnapshot(d)
		seenOwn = seenOwn || ev.DocID == own.DocID
		if ev.Status == "" {
			out = append(out, ev)
		}
	}
	if !seenOwn && (own.malformed != nil || !cur.after(own) || !more) {
		out = append(out, own)
	}
	// Malformed events (no usable createdAt) go first: they are rejected
	// and take no number, so where they sort changes nothing else.
	slices.SortFunc(out, func(a, b Event) int {
		switch {
		case (a.malformed != nil) != (b.malformed != nil):
			if a.malformed != nil {
				return -1
			}
			return 1
		case a.malformed != nil:
			return cmpString(a.DocID, b.DocID)
		case before(a, b):
			return -1
		case before(b, a):
			return 1
		}
		return 0
	})
	return out, more, nil
}

// decide validates one event against the session and the experience. The
// order of the checks makes each reason deterministic when several apply.
func (s *Sequencer) decide(sess *sessions.Session, st *sequencerState, ev Event) Outcome {
	reject := func(r RejectReason) Outcome { return Outcome{Status: StatusRejected, Reason: r} }
	switch {
	case ev.malformed != nil:
		return reject(ReasonMalformed)
	case ev.ID != ev.DocID:
		return reject(ReasonIDMismatch)
	case ev.size > s.opts.MaxEventBytes:
		return reject(ReasonTooLarge)
	case experiences.IsSystemType(ev.Type) && ev.Origin != OriginServer:
		return reject(ReasonSystemReserved)
	}
	if ev.Origin == OriginServer {
		// The functions wrote it, having changed the session themselves in
		// the same transaction; it only needs its number.
		return Outcome{Status: StatusAccepted}
	}
	switch {
	case sess.Status != sessions.StatusActive:
		return reject(ReasonSessionInactive)
	case !sess.IsParticipant(ev.SenderID):
		return reject(ReasonNotParticipant)
	}
	x, ok := s.reg.Lookup(sess.ExperienceID)
	if !ok {
		return reject(ReasonUnknownType)
	}
	if err := x.Validate(ev.Type, ev.Data); err != nil {
		if errors.Is(err, experiences.ErrUnknownType) {
			return reject(ReasonUnknownType)
		}
		return reject(ReasonInvalidData)
	}
	// Both buckets must have room; neither is charged for a rejected event.
	sender, session := st.sender(ev.SenderID), &st.Session
	sb, ss := *sender, *session
	if !sb.Take(s.opts.SenderLimit, ev.CreatedAt) || !ss.Take(s.opts.SessionLimit, ev.CreatedAt) {
		return reject(ReasonRateLimited)
	}
	*sender, *session = sb, ss
	return Outcome{Status: StatusAccepted}
}

// forgetFullBuckets drops the buckets of senders quiet long enough to have
// refilled completely: a full bucket and no bucket decide alike, and the
// session document must not grow with every sender ever seen.
func (st *sequencerState) forgetFullBuckets(l ratelimit.Limit) {
	for uid, b := range st.Senders {
		if b.Full(l, st.Cursor.CreatedAt) {
			delete(st.Senders, uid)
		}
	}
}

func (st *sequencerState) sender(uid string) *ratelimit.Bucket {
	b, ok := st.Senders[uid]
	if !ok {
		b = &ratelimit.Bucket{}
		st.Senders[uid] = b
	}
	return b
}

func (s *Sequencer) writeDecision(tx *firestore.Transaction, ref *firestore.DocumentRef, ev Event, out Outcome) error {
	updates := []firestore.Update{
		{Path: "status", Value: out.Status},
		{Path: "sequencedAt", Value: firestore.ServerTimestamp},
	}
	if out.Status == StatusAccepted {
		updates = append(updates, firestore.Update{Path: "sequenceNumber", Value: out.SequenceNumber})
	} else {
		updates = append(updates, firestore.Update{Path: "rejectReason", Value: string(out.Reason)})
	}
	if s.log != nil {
		s.log.Info("event decided",
			logging.KeySessionID, ref.Parent.Parent.ID, logging.KeyEventID, ev.DocID,
			logging.KeySequenceNumber, out.SequenceNumber, logging.KeyOutcome, out.Status,
			logging.KeyReason, string(out.Reason), "type", ev.Type)
	}
	return tx.Update(ref, updates)
}

func outcomeOf(ev Event) Outcome {
	return Outcome{Status: ev.Status, Reason: RejectReason(ev.RejectReason), SequenceNumber: ev.SequenceNumber}
}
