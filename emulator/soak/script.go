package soak

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Kind is what one operation of a script does.
type Kind string

// The operations a script is made of.
const (
	OpCreate    Kind = "create"    // createSession in Call
	OpJoin      Kind = "join"      // joinSession of Call's current session (response kept)
	OpLeave     Kind = "leave"     // leaveSession
	OpEnd       Kind = "end"       // endSession
	OpTransfer  Kind = "transfer"  // transferOwnership to Other
	OpWrite     Kind = "write"     // Count events of Event kind, one after the other
	OpHeartbeat Kind = "heartbeat" // presence/{uid}.lastSeenAt = request.time
	OpRemove    Kind = "remove"    // call service removes User from the call's members
	OpAdd       Kind = "add"       // call service adds User back
	OpEndCall   Kind = "end_call"  // call service marks the call ended
	OpDelCall   Kind = "del_call"  // call service deletes the call
	OpSchedule  Kind = "schedule"  // run a scheduled function now
	OpKill      Kind = "kill"      // SIGKILL the functions host
	OpFaults    Kind = "faults"    // change the delivery faults
	OpPause     Kind = "pause"     // let time pass (heartbeats age, buckets refill)
	OpObserve   Kind = "observe"   // read everything and check the invariants that hold at any moment
)

// EventKind is the shape of a written event: valid, or one defect.
type EventKind string

// Event kinds; all but EvValid have exactly one defect.
const (
	EvValid       EventKind = "valid"
	EvMalformed   EventKind = "malformed"    // a data value that is not a string
	EvUnknownType EventKind = "unknown_type" // a type of no experience (or of the other one)
	EvBadData     EventKind = "bad_data"     // data off its schema
	EvReserved    EventKind = "reserved"     // a system event type
	EvTooLarge    EventKind = "too_large"    // well over MAX_EVENT_BYTES
	EvIDMismatch  EventKind = "id_mismatch"  // written by an admin: id != document id
	EvNonMember   EventKind = "non_member"   // written by an admin for a user outside the session
)

// Op is one operation. Which fields matter depends on Kind.
type Op struct {
	Kind       Kind      `json:"kind"`
	User       int       `json:"user,omitempty"`
	Other      int       `json:"other,omitempty"`
	Call       int       `json:"call,omitempty"`
	Experience string    `json:"experience,omitempty"`
	Event      EventKind `json:"event,omitempty"`
	Count      int       `json:"count,omitempty"`
	// Admin writes the event with the Admin SDK (rules bypassed,
	// createdAt still the server's commit time).
	Admin    bool          `json:"admin,omitempty"`
	Schedule string        `json:"schedule,omitempty"`
	Faults   FaultSpec     `json:"faults,omitzero"`
	Pause    time.Duration `json:"pause,omitempty"`
	// Salt makes the event contents of this op differ from another's.
	Salt uint64 `json:"salt,omitempty"`
}

// FaultSpec is the part of emulator.Faults a script chooses.
type FaultSpec struct {
	Concurrency   int           `json:"concurrency,omitempty"`
	DuplicateRate float64       `json:"duplicateRate,omitempty"`
	DropRate      float64       `json:"dropRate,omitempty"`
	ReorderWindow time.Duration `json:"reorderWindow,omitempty"`
	MaxLatency    time.Duration `json:"maxLatency,omitempty"`
	Seed          int64         `json:"seed,omitempty"`
}

func (o Op) String() string {
	switch o.Kind {
	case OpCreate:
		return fmt.Sprintf("u%d create c%d %s", o.User, o.Call, o.Experience)
	case OpTransfer:
		return fmt.Sprintf("u%d transfer c%d -> u%d", o.User, o.Call, o.Other)
	case OpWrite:
		via := "client"
		if o.Admin {
			via = "admin"
		}
		return fmt.Sprintf("u%d write c%d %dx%s (%s)", o.User, o.Call, o.Count, o.Event, via)
	case OpRemove, OpAdd:
		return fmt.Sprintf("c%d %s u%d", o.Call, o.Kind, o.User)
	case OpEndCall, OpDelCall:
		return fmt.Sprintf("c%d %s", o.Call, o.Kind)
	case OpSchedule:
		return "schedule " + o.Schedule
	case OpKill, OpObserve:
		return string(o.Kind)
	case OpFaults:
		return fmt.Sprintf("faults %+v", o.Faults)
	case OpPause:
		return "pause " + o.Pause.String()
	}
	return fmt.Sprintf("u%d %s c%d", o.User, o.Kind, o.Call)
}

// Round is operations run at the same time, each by a different actor.
type Round []Op

// Script is a whole history to play: the initial calls, then rounds one
// after the other.
type Script struct {
	Seed  uint64 `json:"seed"`
	Users int    `json:"users"`
	Calls int    `json:"calls"`
	// Members[c] are the users in call c at the start.
	Members [][]int   `json:"members"`
	Faults  FaultSpec `json:"faults"`
	Hot     bool      `json:"hot,omitempty"`
	Rounds  []Round   `json:"rounds"`
}

// Ops counts the operations.
func (s Script) Ops() int {
	n := 0
	for _, r := range s.Rounds {
		n += len(r)
	}
	return n
}

func (s Script) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d users, %d calls (hot %v), members %v, faults %+v\n", s.Seed, s.Users, s.Calls, s.Hot, s.Members, s.Faults)
	for i, r := range s.Rounds {
		ops := make([]string, len(r))
		for j, o := range r {
			ops[j] = o.String()
		}
		fmt.Fprintf(&b, "  round %d: %s\n", i, strings.Join(ops, " | "))
	}
	return b.String()
}

// Schedules a script may run at any moment.
var Schedules = []string{"sweepPendingEvents", "checkPresence", "compactSnapshots", "closeStaleSessions", "cleanupEndedSessions"}

// Size bounds a generated script.
type Size struct {
	Rounds int
	// Crashes allows killing the functions host.
	Crashes bool
}

// Generate is the script of a seed: a pure function of (seed, size).
func Generate(seed uint64, size Size) Script {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed5eed5eed5eed))
	s := Script{Seed: seed, Users: 4 + r.IntN(4), Calls: 1 + r.IntN(3)}
	// A hot script crowds everyone into one call, more of them at once,
	// so that writes, leaves and ends of one session race.
	s.Hot = r.IntN(3) == 0
	if s.Hot {
		s.Calls = 1
	}
	s.Faults = randomFaults(r)
	for c := range s.Calls {
		var m []int
		for u := range s.Users {
			if r.IntN(10) < 8 {
				m = append(m, u)
			}
		}
		if len(m) == 0 {
			m = append(m, c%s.Users)
		}
		s.Members = append(s.Members, m)
	}
	members := func(c int) []int { return s.Members[c] }
	pick := func(xs []int) int { return xs[r.IntN(len(xs))] }
	// Every call starts with a session, and some of its members join it.
	var opening, joins Round
	for c := range s.Calls {
		opening = append(opening, Op{Kind: OpCreate, Call: c, User: pick(members(c)),
			Experience: []string{"co_reading", "co_drawing"}[r.IntN(2)], Salt: r.Uint64()})
	}
	// in is who the script expects in each call's session (a guess: the
	// system decides), so that most operations come from participants.
	in := make([]map[int]bool, s.Calls)
	for _, op := range opening {
		in[op.Call] = map[int]bool{op.User: true}
	}
	inList := func(c int) []int {
		var xs []int
		for u := range s.Users {
			if in[c][u] {
				xs = append(xs, u)
			}
		}
		return xs
	}
	busy := map[int]bool{}
	for c := range s.Calls {
		for _, u := range members(c) {
			if !busy[u] && r.IntN(3) > 0 {
				busy[u] = true
				in[c][u] = true
				joins = append(joins, Op{Kind: OpJoin, Call: c, User: u, Salt: r.Uint64()})
			}
		}
	}
	s.Rounds = append(s.Rounds, opening)
	if len(joins) > 0 {
		s.Rounds = append(s.Rounds, joins)
	}
	for range size.Rounds {
		var round Round
		busy := map[int]bool{}
		// One global operation now and then, alone or among user ones.
		switch x := r.IntN(100); {
		case x < 6:
			round = append(round, Op{Kind: OpSchedule, Schedule: "checkPresence"})
		case x < 12:
			round = append(round, Op{Kind: OpSchedule, Schedule: Schedules[r.IntN(len(Schedules))]})
		case x < 15 && size.Crashes:
			round = append(round, Op{Kind: OpKill})
		case x < 18:
			round = append(round, Op{Kind: OpFaults, Faults: randomFaults(r)})
		case x < 22:
			round = append(round, Op{Kind: OpPause, Pause: time.Duration(500+r.IntN(3500)) * time.Millisecond})
		case x < 29:
			round = append(round, Op{Kind: OpObserve})
		case x < 33:
			c := r.IntN(s.Calls)
			u := r.IntN(s.Users)
			if r.IntN(2) == 0 {
				round = append(round, Op{Kind: OpRemove, Call: c, User: u})
			} else {
				round = append(round, Op{Kind: OpAdd, Call: c, User: u})
			}
		case x < 34:
			c := r.IntN(s.Calls)
			if r.IntN(2) == 0 {
				round = append(round, Op{Kind: OpEndCall, Call: c})
			} else {
				round = append(round, Op{Kind: OpDelCall, Call: c})
			}
		}
		actors := 1 + r.IntN(4)
		if s.Hot {
			actors = 2 + r.IntN(5)
		}
		for range actors {
			c := r.IntN(s.Calls)
			u := pick(members(c))
			if xs := inList(c); len(xs) > 0 && r.IntN(4) > 0 {
				u = pick(xs)
			}
			if r.IntN(10) == 0 {
				u = r.IntN(s.Users) // now and then someone outside the call
			}
			if busy[u] {
				continue
			}
			busy[u] = true
			op := Op{User: u, Call: c, Salt: r.Uint64()}
			switch x := r.IntN(100); {
			case x < 8:
				op.Kind = OpCreate
				op.Experience = []string{"co_reading", "co_drawing"}[r.IntN(2)]
				if len(inList(c)) == 0 {
					in[c] = map[int]bool{u: true}
				}
			case x < 22:
				op.Kind = OpJoin
				in[c][u] = true
			case x < 26:
				op.Kind = OpLeave
				delete(in[c], u)
			case x < 28:
				op.Kind = OpEnd
				in[c] = map[int]bool{}
			case x < 32:
				op.Kind = OpTransfer
				op.Other = pick(members(c))
				if xs := inList(c); len(xs) > 0 {
					op.Other = pick(xs)
				}
			case x < 50:
				op.Kind = OpHeartbeat
			default:
				op.Kind = OpWrite
				op.Count = 1 + r.IntN(3)
				if r.IntN(12) == 0 || s.Hot && r.IntN(6) == 0 {
					op.Count = 8 + r.IntN(20) // a burst, for the rate limits
				}
				op.Event = EvValid
				if r.IntN(3) == 0 {
					op.Event = []EventKind{EvMalformed, EvUnknownType, EvBadData, EvReserved, EvTooLarge, EvIDMismatch, EvNonMember}[r.IntN(7)]
					op.Count = 1 + r.IntN(2)
				}
				switch op.Event {
				case EvIDMismatch, EvNonMember:
					op.Admin = true
				default:
					op.Admin = r.IntN(10) == 0
				}
			}
			round = append(round, op)
		}
		// Participants online heartbeat now and then (the apps do every 5
		// to 10 s); the others go silent and the presence check removes them.
		for c := range s.Calls {
			for _, u := range inList(c) {
				if !busy[u] && r.IntN(5) < 2 {
					busy[u] = true
					round = append(round, Op{Kind: OpHeartbeat, User: u, Call: c})
				}
			}
		}
		if len(round) > 0 {
			s.Rounds = append(s.Rounds, round)
		}
	}
	return s
}

func randomFaults(r *rand.Rand) FaultSpec {
	f := FaultSpec{Concurrency: 1 + r.IntN(8), Seed: r.Int64N(1 << 40)}
	if r.IntN(2) == 0 {
		f.DuplicateRate = float64(r.IntN(5)) / 10
	}
	if r.IntN(4) == 0 {
		f.DropRate = float64(1+r.IntN(2)) / 10
	}
	if r.IntN(3) == 0 {
		f.ReorderWindow = time.Duration(10+r.IntN(90)) * time.Millisecond
	}
	if r.IntN(2) == 0 {
		f.MaxLatency = time.Duration(r.IntN(150)) * time.Millisecond
	}
	return f
}

// eventFields is the client part of the n-th event of op: its type and data
// for the session's experience, with op's defect.
func eventFields(op Op, n int, experience string) (typ string, data map[string]any) {
	r := rand.New(rand.NewPCG(op.Salt, uint64(n)))
	valid := func() (string, map[string]any) {
		if experience == "co_drawing" {
			switch x := r.IntN(10); {
			case x < 7:
				pts := make([]string, 1+r.IntN(4))
				for i := range pts {
					pts[i] = coord(r) + "," + coord(r)
				}
				return "stroke_added", map[string]any{"strokeId": "s" + strconv.Itoa(r.IntN(6)),
					"color": fmt.Sprintf("#%06x", r.IntN(1<<24)), "points": strings.Join(pts, ";")}
			case x < 9:
				return "stroke_removed", map[string]any{"strokeId": "s" + strconv.Itoa(r.IntN(6))}
			default:
				return "canvas_cleared", map[string]any{}
			}
		}
		switch x := r.IntN(10); {
		case x < 3:
			return "story_selected", map[string]any{"storyId": "story-" + strconv.Itoa(r.IntN(4))}
		case x < 9:
			return "page_changed", map[string]any{"pageIndex": strconv.Itoa(r.IntN(40))}
		default:
			return "story_closed", map[string]any{}
		}
	}
	typ, data = valid()
	switch op.Event {
	case EvMalformed:
		for k := range data {
			data[k] = int64(7)
		}
		data["n"] = int64(1) // data with no field at all must be malformed too
	case EvUnknownType:
		typ = []string{"dance", "page_changed", "stroke_added"}[r.IntN(3)]
		if typ == "page_changed" && experience == "co_reading" || typ == "stroke_added" && experience == "co_drawing" {
			typ = "dance"
		}
	case EvBadData:
		data["extra"] = "x"
	case EvReserved:
		typ = []string{"participant_joined", "participant_left", "owner_changed", "experience_ended"}[r.IntN(4)]
		data = map[string]any{"userId": "someone"}
	case EvTooLarge:
		data = map[string]any{"storyId": strings.Repeat("x", 20000)}
		if experience == "co_drawing" {
			data = map[string]any{"strokeId": strings.Repeat("x", 20000)}
		}
	}
	return typ, data
}

func coord(r *rand.Rand) string {
	return strconv.FormatFloat(float64(r.IntN(10001))/10000, 'f', -1, 64)
}
