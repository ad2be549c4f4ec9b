package soak

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Settings of TestSoak, from the environment:
//
//	SEED        replay this one seed (its script; the interleaving is the system's)
//	SEEDS       how many seeds (default 2, the make test budget)
//	SEED_BASE   first seed (default 1; make soak passes the clock)
//	DURATION    stop starting seeds after this long (default none)
//	ROUNDS      rounds per script (default 18)
//	SHRINK      time allowed to shrink a failing script (default 90s)
//	SOAK_OUT    where failing histories are saved (default the temp dir)
//	SOAK_BREAK  skip one rule in the model (membership, end, rate, order), to see it caught
func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

// TestSoak plays seeded random histories against the local stack and
// checks every invariant on what they committed.
func TestSoak(t *testing.T) {
	env.Require(t)
	size := Size{Rounds: envInt("ROUNDS", 18), Crashes: true}
	var seeds []uint64
	if s := os.Getenv("SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SEED=%q: %v", s, err)
		}
		seeds = []uint64{seed}
	} else {
		base := uint64(envInt("SEED_BASE", 1))
		for i := range envInt("SEEDS", 2) {
			seeds = append(seeds, base+uint64(i))
		}
	}
	duration := envDuration("DURATION", 0)
	breakRule := os.Getenv("SOAK_BREAK")
	started := time.Now()
	var total Stats
	var ran, failed int
	for _, seed := range seeds {
		if duration > 0 && time.Since(started) > duration {
			break
		}
		script := Generate(seed, size)
		ran++
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			h, st, err := play(t, script)
			total.add(st)
			if err != nil {
				t.Fatalf("seed %d: the run did not settle: %v\nreplay: SEED=%d go test ./emulator/soak -run TestSoak -v", seed, err, seed)
			}
			t.Logf("seed %d: %d ops, %d events, %d crashes, %d duplicated, %d dropped, %d delivery attempts, %d restarts; %d sessions; %d decisions, %d from copies; failed ops %v",
				seed, st.Ops, st.Events, st.Crashes, st.Duplicated, st.Dropped, st.Attempts, st.Restarts, len(h.Sessions), st.Decided, st.FromCopy, st.Answers)
			if testing.Verbose() && os.Getenv("SEED") != "" {
				t.Logf("script:\n%s", script)
			}
			t.Logf("seed %d outcomes: %v", seed, outcomes(h))
			vs := Check(h, breakRule)
			if len(vs) == 0 {
				return
			}
			report(t, seed, script, h, vs, size, breakRule)
		})
		if !ok {
			failed++
		}
	}
	t.Logf("soak: %d seeds (%d failed) in %s: %d ops, %d events, %d host kills, %d restarts, %d duplicated and %d dropped triggers, %d delivery attempts; %d decisions, %d of them from the triggers' copies",
		ran, failed, time.Since(started).Round(time.Second), total.Ops, total.Events, total.Crashes, total.Restarts,
		total.Duplicated, total.Dropped, total.Attempts, total.Decided, total.FromCopy)
}

// outcomes counts the decisions and end reasons of a history, to see what
// a run exercised.
func outcomes(h *History) map[string]int {
	out := map[string]int{}
	for _, s := range h.Sessions {
		for _, e := range s.Events {
			switch {
			case e.Status == "accepted" && e.Origin == "server":
				out[e.Type]++
			case e.Status == "accepted":
				out["accepted"]++
			default:
				out[e.RejectReason]++
			}
		}
		if s.Session.EndReason != "" {
			out["end:"+s.Session.EndReason]++
		}
		if s.Snapshot != nil {
			out["snapshots"]++
		}
	}
	out["joins"] = len(h.Joins)
	out["observations"] = len(h.Observations)
	return out
}

func (s *Stats) add(o Stats) {
	s.Ops += o.Ops
	s.Events += o.Events
	s.Crashes += o.Crashes
	s.Duplicated += o.Duplicated
	s.Dropped += o.Dropped
	s.Attempts += o.Attempts
	s.Restarts += o.Restarts
	s.Failed += o.Failed
	s.Decided += o.Decided
	s.FromCopy += o.FromCopy
}

// report saves the failing history, shrinks the script and fails the test
// with the seed, the violations and the shortest script found.
func report(t *testing.T, seed uint64, script Script, h *History, vs []Violation, size Size, breakRule string) {
	t.Helper()
	dir := os.Getenv("SOAK_OUT")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("soak-%d-%s.json", seed, time.Now().Format("150405")))
	if err := h.Save(path); err != nil {
		t.Logf("cannot save the history: %v", err)
	}
	var lines []string
	for _, v := range vs {
		lines = append(lines, "  "+v.String())
	}
	names := map[string]bool{}
	for _, v := range vs {
		names[v.Invariant] = true
	}
	shrunk := shrink(t, script, names, breakRule, envDuration("SHRINK", 90*time.Second))
	t.Errorf("seed %d: %d invariant violations:\n%s\nhistory saved: %s (HISTORY=%s go test ./emulator/soak -run TestRecheck -v)\n"+
		"replay: SEED=%d ROUNDS=%d go test ./emulator/soak -run TestSoak -v\nshortest failing script (%d of %d ops):\n%s",
		seed, len(vs), strings.Join(lines, "\n"), path, path, seed, size.Rounds, shrunk.Ops(), script.Ops(), shrunk)
}

// shrink drops rounds, then single operations, as long as the script still
// breaks one of the same invariants, within budget. Each try is a whole
// run on the stack: the interleaving differs from try to try, so a script
// that passes once is not proven innocent, only not kept.
func shrink(t *testing.T, s Script, names map[string]bool, breakRule string, budget time.Duration) Script {
	deadline := time.Now().Add(budget)
	fails := func(c Script) bool {
		if time.Now().After(deadline) || c.Ops() == 0 {
			return false
		}
		h, _, err := play(t, c)
		if err != nil {
			return false
		}
		for _, v := range Check(h, breakRule) {
			if names[v.Invariant] {
				return true
			}
		}
		return false
	}
	best := s
	for chunk := len(best.Rounds) / 2; chunk >= 1 && time.Now().Before(deadline); chunk /= 2 {
		for i := 0; i+chunk <= len(best.Rounds) && time.Now().Before(deadline); {
			c := best
			c.Rounds = slices.Concat(best.Rounds[:i], best.Rounds[i+chunk:])
			if fails(c) {
				best = c
				continue
			}
			i += chunk
		}
	}
	for i := 0; i < len(best.Rounds) && time.Now().Before(deadline); i++ {
		for j := 0; j < len(best.Rounds[i]) && len(best.Rounds[i]) > 1 && time.Now().Before(deadline); {
			c := best
			c.Rounds = slices.Clone(best.Rounds)
			c.Rounds[i] = slices.Delete(slices.Clone(best.Rounds[i]), j, j+1)
			if fails(c) {
				best = c
				continue
			}
			j++
		}
	}
	return best
}

// TestRecheck checks a saved history again, without the emulators:
// HISTORY=/tmp/soak-....json go test ./emulator/soak -run TestRecheck -v
func TestRecheck(t *testing.T) {
	path := os.Getenv("HISTORY")
	if path == "" {
		t.Skip("HISTORY not set")
	}
	h, err := LoadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	vs := Check(h, os.Getenv("SOAK_BREAK"))
	for _, v := range vs {
		t.Error(v.String())
	}
	t.Logf("seed %d: %d sessions, %d violations", h.Seed, len(h.Sessions), len(vs))
}
