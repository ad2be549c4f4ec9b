// Command bench measures the shared-experiences backend on the local
// emulator stack in one reproducible run (`make bench`, that is
// `go run ./bench $(BENCH_FLAGS)`), prints one table and writes
// bench/RESULTS.md and bench/results.json.
//
// # What it measures
//
//   - The floor: a bare Firestore create by one Go client, seen by another
//     Go client's query listener on the same emulator.
//   - Scenario 1: a client event written by a signed-in user (REST, rules
//     applied) until the server has accepted it and a peer's listener on
//     the accepted events sees it; p50/p95/p99 and ratios to the floor's.
//     Also the same event written by the admin client (the floor's write
//     path, so the ratio isolates the pipeline) and a rules-checked client
//     write with no trigger (the client-write floor).
//   - Scenarios 2 and 3: one session with 1, 5, 20 and 50 concurrent
//     writers, each write followed by a concurrent SequenceCreated call in
//     this process with the stored document (as Eventarc delivers triggers
//     concurrently, carrying the created document): events/s,
//     session-document writes per event, transaction retries, rejected,
//     lost and out-of-order events (counted on the documents), runs decided
//     from the triggers' copies, and Firestore reads and
//     writes per 1,000 events from the sequencer's own counters. The
//     ceiling is a bare loop of uncontended transactions each writing a
//     batch of documents and a counter. The same load through the Firestore
//     emulator's own trigger delivery and the functions host is reported
//     alongside (end to end).
//   - Scenario 4: joinSession through the callable protocol with 10, 1,000
//     and 10,000 events of history (written as already accepted), before
//     and after compaction, as ratios to a fresh 10-event session joined in
//     the same rounds; and the query a compacted join still runs, alone.
//   - Scenario 5: Compactor.Compact on those sessions: time, events read,
//     writes.
//   - Scenario 6: many sessions at once (100 x 5 writers by default),
//     aggregate events/s, each session in a project of its own; and a few
//     sessions in one project, which shows the emulator's cross-session
//     locking (see seqSpec).
//   - Scenario 7: a junk flood. In one session, 3 x BatchSize malformed
//     events (a number in data, as any participant may write) then one
//     valid event, every trigger called at once, junk first; the valid
//     event's write -> accepted time against the same event in a clean
//     session, in interleaved rounds; runs per session and junk events
//     passed per extra run.
//   - Scenario 8: the peak RSS of one sequencing run over 200 pending
//     events of about 1 MiB (rejected too_large), in a child process (the
//     bench runs itself with the hidden rss-child subcommand), against the
//     same child on 200 small events.
//   - Scenario 9: one session, 20 writers, triggers spread over 1, 4 and
//     16 sequencer instances (own client, own lanes), some duplicated:
//     events/s, transaction attempts per event, Sequence errors, lost
//     events, and the accepted numbers checked to be exactly 1..N.
//   - Scenario 10: the scheduled functions at 1,000 and 10,000 active
//     sessions of which 1% need work: Firestore reads and writes of each
//     run and of the session-work messages it queued, and its duration
//     (-only schedules runs it alone, in about a minute).
//   - Go benchmarks of the pure hot paths (validation, reducer folds,
//     CloudEvent decoding), with allocations.
//
// # How
//
// One stack is started (emulator.Start: Auth, Firestore, Pub/Sub, the
// functions host and trigger delivery, on free ports) with the rate limits
// raised beyond bench load and automatic compaction off, and stopped on
// exit or on a signal. The in-process sequencer scenarios use other
// projects on the same Firestore emulator, which have no trigger, so the
// functions host does not sequence their events as well. Latency samples
// and joins are taken in rounds, every case once per round in a new random
// order, so the machine's noise (these machines are shared) hits each
// alike: the ratios are the result, bare times only their context.
//
// Every size is a flag (go run ./bench -h); -only runs some scenarios.
// A run with a failed scenario prints what it has and leaves RESULTS.md as
// it was.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/emulator"
)

// config is every size the scenarios take; the defaults finish the whole
// bench in well under 10 minutes on a 2-core machine.
type config struct {
	LatencyN      int `json:"latencySamples"`
	LatencyWarmup int `json:"latencyWarmup"`

	SeqWriters intList `json:"sequencingWriters"`
	SeqEvents  int     `json:"sequencingEvents"`
	// SeqReads also runs each writer count with triggers that carry no
	// copy, alternated with the copies' run, for the copies' price side
	// by side.
	SeqReads bool `json:"sequencingReads"`

	CeilingTx    int `json:"ceilingTransactions"`
	CeilingBatch int `json:"ceilingBatch"`

	E2EWriters int `json:"endToEndWriters"`
	E2EEvents  int `json:"endToEndEvents"`

	ManySessions   int `json:"manySessions"`
	ManyWriters    int `json:"manyWriters"`
	ManyPerSession int `json:"manyEventsPerSession"`
	ManyShared     int `json:"manySharedSessions"`

	FloodRounds int `json:"floodRounds"`
	FloodBatch  int `json:"floodBatchSize"`

	MemEvents     int `json:"memoryEvents"`
	MemEventBytes int `json:"memoryEventBytes"`

	InstanceCounts  intList `json:"instanceCounts"`
	InstanceWriters int     `json:"instanceWriters"`
	InstanceEvents  int     `json:"instanceEvents"`
	InstanceDup     float64 `json:"instanceDuplicateFraction"`
	InstanceMaxSecs int     `json:"instanceMaxWriteSeconds"`

	SchedSizes    intList `json:"scheduleSessions"`
	SchedFraction float64 `json:"scheduleNeedWorkFraction"`

	JoinSizes  intList `json:"joinSizes"`
	JoinReps   int     `json:"joinReps"`
	JoinWarmup int     `json:"joinWarmup"`

	// Only names the scenarios to run (empty: all), for working on one.
	Only stringSet `json:"only,omitempty"`

	DeliveryConcurrency int    `json:"deliveryConcurrency"`
	GoBench             bool   `json:"goBench"`
	GoBenchTime         string `json:"goBenchTime"`
	Out                 string `json:"-"`
}

func parseFlags(args []string) (config, error) {
	c := config{SeqWriters: intList{1, 5, 20, 50}, JoinSizes: intList{10, 1000, 10000}, InstanceCounts: intList{1, 4, 16}, SchedSizes: intList{1000, 10000}}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&c.LatencyN, "latency-n", 500, "floor and scenario 1: timed writes per path")
	fs.IntVar(&c.LatencyWarmup, "latency-warmup", 30, "floor and scenario 1: untimed writes per path first")
	fs.Var(&c.SeqWriters, "seq-writers", "scenarios 2 and 3: writer counts, comma-separated")
	fs.IntVar(&c.SeqEvents, "seq-events", 3000, "scenarios 2 and 3: events per writer count")
	fs.BoolVar(&c.SeqReads, "seq-reads", true, "scenarios 2 and 3: also run each writer count with triggers that carry no copy (Sequence reads the event), alternated, to measure the copies' price side by side")
	fs.IntVar(&c.CeilingTx, "ceiling-tx", 200, "ceiling: transactions in the bare loop")
	fs.IntVar(&c.CeilingBatch, "ceiling-batch", 50, "ceiling: new documents per transaction")
	fs.IntVar(&c.E2EWriters, "e2e-writers", 20, "end to end through trigger delivery: writers")
	fs.IntVar(&c.E2EEvents, "e2e-events", 2000, "end to end through trigger delivery: events")
	fs.IntVar(&c.ManySessions, "many-sessions", 100, "scenario 6: sessions at once")
	fs.IntVar(&c.ManyWriters, "many-writers", 5, "scenario 6: writers per session")
	fs.IntVar(&c.ManyPerSession, "many-events", 40, "scenario 6: events per session")
	fs.IntVar(&c.ManyShared, "many-shared", 4, "scenario 6: sessions in one project, to show the emulator's cross-session locking (0: skip)")
	fs.IntVar(&c.FloodRounds, "flood-rounds", 10, "scenario 7: rounds, each a flooded and a clean session")
	fs.IntVar(&c.FloodBatch, "flood-batch", 200, "scenario 7: the sequencer's BatchSize (the flood is 3x this many junk events; at most 450)")
	fs.IntVar(&c.MemEvents, "mem-events", 200, "scenario 8: pending events in the sequenced session")
	fs.IntVar(&c.MemEventBytes, "mem-event-bytes", 1<<20-4<<10, "scenario 8: bytes of data per large event (Firestore's document limit is 1 MiB)")
	fs.Var(&c.InstanceCounts, "instances", "scenario 9: sequencer instance counts, comma-separated")
	fs.IntVar(&c.InstanceWriters, "instance-writers", 20, "scenario 9: concurrent writers")
	fs.IntVar(&c.InstanceEvents, "instance-events", 600, "scenario 9: events per instance count")
	fs.IntVar(&c.InstanceMaxSecs, "instance-max-seconds", 20, "scenario 9: writers stop taking new events after this many seconds (a collapsed count still ends)")
	fs.Float64Var(&c.InstanceDup, "instance-dup", 0.1, "scenario 9: fraction of writes whose trigger is also delivered to a second instance")
	fs.Var(&c.JoinSizes, "join-sizes", "scenarios 4 and 5: events of history, comma-separated; the first also sizes the fresh reference session")
	fs.IntVar(&c.JoinReps, "join-reps", 30, "scenario 4: timed joins per size, before and after compaction")
	fs.IntVar(&c.JoinWarmup, "join-warmup", 3, "scenario 4: untimed joins per size first")
	fs.Var(&c.SchedSizes, "sched-sessions", "scenario 10: active sessions seeded, comma-separated")
	fs.Float64Var(&c.SchedFraction, "sched-need", 0.01, "scenario 10: fraction of the sessions that need work")
	fs.IntVar(&c.DeliveryConcurrency, "delivery-concurrency", 16, "trigger deliveries in flight at once (Eventarc is concurrent)")
	fs.BoolVar(&c.GoBench, "gobench", true, "run the Go benchmarks of the pure hot paths")
	fs.StringVar(&c.GoBenchTime, "gobench-time", "500ms", "-benchtime for the Go benchmarks")
	fs.Var(&c.Only, "only", "run only these, comma-separated: "+strings.Join(scenarioNames, ",")+" (results then go to a temporary directory unless -out)")
	fs.StringVar(&c.Out, "out", "", "directory for RESULTS.md and results.json (default: bench/ in the module)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for name := range c.Only {
		if !slices.Contains(scenarioNames, name) {
			return c, fmt.Errorf("-only: unknown scenario %q (have %s)", name, strings.Join(scenarioNames, ", "))
		}
	}
	switch {
	case c.LatencyN < 1, c.SeqEvents < 1, c.CeilingTx < 1, c.CeilingBatch < 1 || c.CeilingBatch > 499,
		c.E2EWriters < 1, c.E2EEvents < 1, c.ManySessions < 1, c.ManyWriters < 1, c.ManyPerSession < 1, c.ManyShared < 0,
		c.JoinReps < 1, len(c.JoinSizes) == 0, len(c.SeqWriters) == 0,
		c.FloodRounds < 1, c.FloodBatch < 1 || c.FloodBatch > 450, c.MemEvents < 1, c.MemEventBytes < 1,
		len(c.InstanceCounts) == 0, c.InstanceWriters < 1, c.InstanceEvents < 1, c.InstanceMaxSecs < 1:
		return c, errors.New("every size must be at least 1 (and -ceiling-batch at most 499, -flood-batch at most 450)")
	case c.SchedFraction < 0 || c.SchedFraction > 1 || len(c.SchedSizes) == 0:
		return c, errors.New("-sched-need is a fraction, 0 to 1, and -sched-sessions not empty")
	case c.InstanceDup < 0 || c.InstanceDup > 1:
		return c, errors.New("-instance-dup is a fraction, 0 to 1")
	}
	return c, nil
}

// scenarioNames are the values -only takes.
var scenarioNames = []string{"latency", "sequencing", "many", "flood", "memory", "instances", "e2e", "catchup", "schedules", "gobench"}

// stringSet is a comma-separated set flag.
type stringSet map[string]bool

func (s *stringSet) String() string { return strings.Join(slices.Sorted(maps.Keys(*s)), ",") }

func (s *stringSet) Set(v string) error {
	*s = stringSet{}
	for _, f := range strings.Split(v, ",") {
		(*s)[strings.TrimSpace(f)] = true
	}
	return nil
}

// wants reports whether the scenario runs in this run.
func (c config) wants(name string) bool { return len(c.Only) == 0 || c.Only[name] }

// intList is a comma-separated list flag.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive integer", f)
		}
		*l = append(*l, n)
	}
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == rssChildCmd {
		// Scenario 8's child process (see runMemory), not for people.
		if err := rssChild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench rss-child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	root, err := emulator.ModuleRoot()
	if err != nil {
		return err
	}
	switch {
	case cfg.Out != "":
	case len(cfg.Only) > 0:
		// A partial run must not replace the committed results.
		if cfg.Out, err = os.MkdirTemp("", "sharedexp-bench-results-"); err != nil {
			return err
		}
	default:
		cfg.Out = filepath.Join(root, "bench")
	}
	// The first signal cancels the run, which stops the stack on the way
	// out; a second one (stop() below) kills the process outright.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

	res := &Results{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Command: commandLine(),
		Machine: readMachine(ctx, root),
		Config:  cfg,
	}
	start := time.Now()
	steps := 2 // start and stop the stack
	for _, name := range scenarioNames {
		if cfg.wants(name) && (name != "gobench" || cfg.GoBench) {
			steps++
		}
	}
	prog := newProgress(os.Stderr, steps)
	errs := runAll(ctx, root, cfg, res, prog)
	prog.close()
	res.TotalSeconds = time.Since(start).Seconds()
	res.Machine.LoadAfter = loadAverage()
	res.Goals = goals(res)

	if table := summaryTable(res); strings.Count(table, "\n") > 2 {
		fmt.Println(table)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("not every scenario ran; %s left as it was:\n%w", filepath.Join(cfg.Out, "RESULTS.md"), err)
	}
	if err := writeResults(cfg.Out, res); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s (%s in all)\n", filepath.Join(cfg.Out, "RESULTS.md"), filepath.Join(cfg.Out, "results.json"),
		time.Duration(res.TotalSeconds*float64(time.Second)).Round(time.Second))
	return nil
}

// runAll starts the stack, runs every scenario on it, stops it, then runs
// the Go benchmarks on the quiet machine. A failed scenario does not stop
// the others; a cancelled context does.
func runAll(ctx context.Context, root string, cfg config, res *Results, prog *progress) []error {
	var errs []error
	prog.scenario("starting the stack (emulators, functions host build)", 0)
	t0 := time.Now()
	st, err := startStack(ctx, root, cfg.DeliveryConcurrency)
	if err != nil {
		return []error{err}
	}
	defer st.stop()
	res.StackStartSeconds = time.Since(t0).Seconds()
	res.LogFile = st.logPath
	prog.printf("stack up in %.1f s (logs: %s)", res.StackStartSeconds, st.logPath)

	step := func(key, name string, f func() error) {
		if ctx.Err() != nil || !cfg.wants(key) {
			return
		}
		prog.scenario(name, 0)
		if err := f(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			prog.printf("%s: FAILED: %v", name, err)
		}
	}
	step("latency", "floor and scenario 1: write -> listener", func() error {
		r, err := runLatency(ctx, st, cfg.LatencyN, cfg.LatencyWarmup, prog)
		if err == nil {
			res.Latency = &r
			prog.printf("floor p50 %.1f ms; scenario 1 p50 %.1f ms (%.1fx)", r.Floor.P50, r.Rows[0].P50, r.Rows[0].RatioP50)
		}
		return err
	})
	step("sequencing", "scenarios 2 and 3: one session, in-process sequencer", func() error {
		c, err := runCeiling(ctx, st, cfg.CeilingTx, cfg.CeilingBatch, prog)
		if err != nil {
			return err
		}
		res.Ceiling = &c
		prog.printf("ceiling (bare batched transactions): %.0f events/s", c.EventsPerSecond)
		for i, w := range cfg.SeqWriters {
			// Alternated, so neither way always runs on a warmer emulator.
			ways := []bool{false}
			if cfg.SeqReads {
				ways = []bool{i%2 == 1, i%2 == 0}
			}
			var row SequencingRow
			for _, reads := range ways {
				prog.phase(fmt.Sprintf("scenarios 2 and 3: one session, %s, %s", writersText(w), triggersText(reads)), int64(cfg.SeqEvents))
				r, err := runSequencing(ctx, st, seqSpec{sessions: 1, writers: w, perSession: cfg.SeqEvents, reads: reads}, prog)
				if err != nil {
					return err
				}
				r.RatioToCeiling = r.EventsPerSecond / c.EventsPerSecond
				if !reads {
					row = r
					continue
				}
				res.SequencingReads = append(res.SequencingReads, r)
				prog.printf("%s, %s: %.0f events/s, %.0f ops/1000, lost %d", writersText(w), triggersText(reads), r.EventsPerSecond, r.OpsPer1000, r.Lost)
			}
			prog.phase(fmt.Sprintf("scenario 2: one session, %s, writes alone", writersText(w)), int64(cfg.SeqEvents))
			alone, err := runWritesAlone(ctx, st, w, cfg.SeqEvents, prog)
			if err != nil {
				return err
			}
			row.WritesAlonePerSecond = alone
			res.Sequencing = append(res.Sequencing, row)
			prog.printf("%s: %.0f events/s (writes alone %.0f/s), %.3f session writes/event, %.0f ops/1000, lost %d",
				writersText(w), row.EventsPerSecond, row.WritesAlonePerSecond, row.SessionWritesPerEvent, row.OpsPer1000, row.Lost)
		}
		return nil
	})
	step("many", "scenario 6: many sessions at once", func() error {
		prog.phase("scenario 6: the emulator's cross-session locking, two bare transactions", 0)
		probe, err := runLockProbe(ctx, st)
		if err != nil {
			return err
		}
		res.LockProbe = &probe
		prog.phase(fmt.Sprintf("scenario 6: %d sessions x %d writers, a project each", cfg.ManySessions, cfg.ManyWriters), 0)
		row, err := runSequencing(ctx, st, seqSpec{sessions: cfg.ManySessions, writers: cfg.ManyWriters, perSession: cfg.ManyPerSession, isolate: true}, prog)
		if err != nil {
			return err
		}
		res.ManySessions = &row
		prog.printf("%d sessions x %d writers: %.0f events/s", cfg.ManySessions, cfg.ManyWriters, row.EventsPerSecond)
		if cfg.ManyShared == 0 {
			return nil
		}
		prog.phase(fmt.Sprintf("scenario 6: %d sessions x %d writers in one project", cfg.ManyShared, cfg.ManyWriters), 0)
		shared, err := runSequencing(ctx, st, seqSpec{sessions: cfg.ManyShared, writers: cfg.ManyWriters, perSession: cfg.ManyPerSession}, prog)
		if err != nil {
			return err
		}
		res.ManyShared = &shared
		prog.printf("%d sessions x %d writers, one project: %.0f events/s", cfg.ManyShared, cfg.ManyWriters, shared.EventsPerSecond)
		return nil
	})
	step("flood", "scenario 7: a valid event behind a junk flood", func() error {
		r, err := runFlood(ctx, cfg.FloodRounds, cfg.FloodBatch, prog)
		if err == nil {
			res.Flood = &r
			prog.printf("flooded p50 %.1f ms vs clean %.1f ms (%.2fx); %.1f vs %.1f transactions; %.0f junk events per extra run",
				r.Flooded.P50, r.Clean.P50, r.RatioP50, r.FloodTransactions, r.CleanTransactions, r.JunkPerExtraRun)
		}
		return err
	})
	step("memory", "scenario 8: peak RSS of a run over large pending events", func() error {
		r, err := runMemory(ctx, st, cfg.MemEvents, cfg.MemEventBytes, prog)
		if err == nil {
			res.Memory = &r
			prog.printf("peak RSS %.1f MiB over %d large events vs %.1f MiB over small ones (+%.1f MiB)",
				kib(r.Large.PeakKiB), r.Events, kib(r.Small.PeakKiB), kib(r.DiffKiB))
		}
		return err
	})
	step("instances", "scenario 9: one session, many sequencer instances", func() error {
		r := &InstancesResult{DuplicateFraction: cfg.InstanceDup}
		for _, k := range cfg.InstanceCounts {
			prog.phase(fmt.Sprintf("scenario 9: %d instance(s), %d writers", k, cfg.InstanceWriters), int64(cfg.InstanceEvents))
			row, err := runInstances(ctx, k, cfg.InstanceWriters, cfg.InstanceEvents, cfg.InstanceDup,
				time.Duration(cfg.InstanceMaxSecs)*time.Second, prog)
			if err != nil {
				return err
			}
			r.Rows = append(r.Rows, row)
			prog.printf("%d instance(s): %.0f events/s, %.2f attempts/event, %d Sequence errors, lost %d, gapless %v %s",
				k, row.EventsPerSecond, row.AttemptsPerEvent, row.SequenceErrors, row.Lost, row.Gapless, row.Check)
		}
		prog.phase("scenario 9: the emulator's lock wait, two bare transactions in one project", 0)
		fs, err := firestore.NewClient(ctx, "demo-bench-klock")
		if err != nil {
			return fmt.Errorf("firestore client: %w", err)
		}
		defer fs.Close()
		if r.Probe, err = probeOnce(ctx, fs, fs); err != nil {
			return err
		}
		res.Instances = r
		return nil
	})
	step("e2e", "end to end: one session through trigger delivery", func() error {
		r, err := runEndToEnd(ctx, st, cfg.E2EWriters, cfg.E2EEvents, prog)
		if err == nil {
			res.EndToEnd = &r
			prog.printf("end to end, %d writers: %.0f events/s", r.Writers, r.EventsPerSecond)
		}
		return err
	})
	step("catchup", "scenarios 4 and 5: joinSession and compaction", func() error {
		r, err := runCatchUp(ctx, st, cfg.JoinSizes, cfg.JoinReps, cfg.JoinWarmup, prog)
		if err == nil {
			res.CatchUp = &r
		}
		return err
	})
	step("schedules", "scenario 10: the scheduled functions at many active sessions", func() error {
		r, err := runSchedules(ctx, cfg.SchedSizes, cfg.SchedFraction, prog)
		if err == nil {
			res.Schedules = &r
		}
		return err
	})
	prog.scenario("stopping the stack", 0)
	st.stop()
	if ctx.Err() != nil {
		return append(errs, fmt.Errorf("interrupted: %w", context.Cause(ctx)))
	}
	if cfg.GoBench {
		step("gobench", "Go benchmarks of the pure hot paths", func() error {
			lines, err := runGoBench(ctx, root, cfg.GoBenchTime)
			res.GoBench = lines
			return err
		})
	}
	return errs
}

// commandLine is how this run was invoked, to rerun it.
func commandLine() string {
	args := os.Args[1:]
	if len(args) == 0 {
		return "make bench  (= go run ./bench)"
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = strconv.Quote(a)
		if !strings.ContainsAny(a, " \t\"'$") {
			quoted[i] = a
		}
	}
	return fmt.Sprintf("make bench BENCH_FLAGS='%s'  (= go run ./bench %s)", strings.Join(quoted, " "), strings.Join(quoted, " "))
}
