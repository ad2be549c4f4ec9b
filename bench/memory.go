package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// MemoryResult is scenario 8: the peak RSS of one sequencing run over
// pending events of about 1 MiB each, in a process of its own, against the
// same process sequencing as many small events.
type MemoryResult struct {
	Events     int       `json:"events"`
	EventBytes int       `json:"eventBytes"`
	Large      MemoryRun `json:"large"`
	Small      MemoryRun `json:"small"`
	// DiffKiB is the large run's peak RSS minus the small one's.
	DiffKiB int64 `json:"peakDiffKiB"`
	// WriteSeconds is the untimed writing of the large events.
	WriteSeconds float64 `json:"largeWriteSeconds"`
}

// MemoryRun is what the child process reported, and the documents after.
type MemoryRun struct {
	// BeforeKiB is the child's peak RSS with its Firestore client
	// connected, just before Sequence; PeakKiB at exit, after it.
	BeforeKiB int64 `json:"maxRssBeforeKiB"`
	PeakKiB   int64 `json:"peakRssKiB"`
	RunKiB    int64 `json:"runKiB"`
	// RusageKiB is ru_maxrss at exit, which includes the parent's peak
	// (see maxRSSKiB): for the record, not the result.
	RusageKiB int64   `json:"rusageMaxrssKiB"`
	Ms        float64 `json:"sequenceMs"`
	// Decided and Transactions are the child sequencer's counters.
	Decided      int64 `json:"decided"`
	Transactions int64 `json:"transactions"`
	// Outcomes on the documents afterwards.
	Accepted int `json:"accepted"`
	TooLarge int `json:"rejectedTooLarge"`
	Other    int `json:"other"`
}

// rssChildCmd is the hidden subcommand the bench runs itself with to
// measure one sequencing run's memory alone: go run ./bench rss-child ...
const rssChildCmd = "rss-child"

// childReport is what the child prints, one JSON line on stdout.
type childReport struct {
	BeforeKiB    int64   `json:"beforeKiB"`
	PeakKiB      int64   `json:"peakKiB"`
	RusageKiB    int64   `json:"rusageMaxrssKiB"`
	Ms           float64 `json:"ms"`
	Decided      int64   `json:"decided"`
	Transactions int64   `json:"transactions"`
}

// maxRSSKiB is this process's peak resident set so far, in KiB: VmHWM,
// the high-water mark of its own address space. getrusage(RUSAGE_SELF)
// ru_maxrss would be the same number in a fresh process, but Linux folds
// into it the RSS of the address space the process had before execve, and
// Go starts a child with a vfork-like clone, so a child's ru_maxrss starts
// at its parent's peak (the whole bench's). rusageMaxRSSKiB is kept for
// the record.
func maxRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return rusageMaxRSSKiB()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil {
				return n
			}
		}
	}
	return rusageMaxRSSKiB()
}

// rusageMaxRSSKiB is getrusage(RUSAGE_SELF) ru_maxrss (KiB on Linux).
func rusageMaxRSSKiB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return int64(ru.Maxrss)
}

// rssChild is the child: one sequencer on its own client, one Sequence
// call for the session, its peak RSS before exit. The emulator's address
// comes from the environment the parent set up.
func rssChild(args []string) error {
	fs := flag.NewFlagSet(rssChildCmd, flag.ContinueOnError)
	project := fs.String("project", "", "Firestore project")
	session := fs.String("session", "", "session id")
	event := fs.String("event", "", "triggering event id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	client, err := firestore.NewClient(ctx, *project)
	if err != nil {
		return err
	}
	defer client.Close()
	// Connect first, so that what the run adds is the run's.
	if _, err := client.Collection("bench_warmup").Doc("none").Get(ctx); err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("warm-up read: %w", err)
	}
	seq := newSequencer(client)
	rep := childReport{BeforeKiB: maxRSSKiB()}
	t0 := time.Now()
	if _, err := seq.Sequence(ctx, *session, *event); err != nil {
		return err
	}
	rep.Ms = ms(time.Since(t0))
	c := seq.Stats.Snapshot()
	rep.Decided, rep.Transactions = c.Decided, c.Transactions
	rep.PeakKiB, rep.RusageKiB = maxRSSKiB(), rusageMaxRSSKiB()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// runMemory writes n events of about eventBytes each into one session and
// n small valid events into another (admin writes: the rules' bounds do
// not apply), then sequences each session once in a child process.
func runMemory(ctx context.Context, st *stack, n, eventBytes int, prog *progress) (MemoryResult, error) {
	res := MemoryResult{Events: n, EventBytes: eventBytes}
	const project = "demo-bench-rss"
	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		return res, fmt.Errorf("firestore client: %w", err)
	}
	defer fs.Close()
	// The large documents stay in the emulator's memory otherwise.
	defer clearProject(st, project)
	prog.setTotal(int64(2 * n))
	blob := strings.Repeat("x", eventBytes)
	for _, large := range []bool{true, false} {
		sid, err := seedSession(ctx, fs, "u00")
		if err != nil {
			return res, err
		}
		t0 := time.Now()
		if err := parallel(ctx, n, 4, func(i int) error {
			id := fmt.Sprintf("e%06d", i)
			ev := clientEvent(id, "u00", int64(i))
			ev["createdAt"] = firestore.ServerTimestamp
			if large {
				ev["data"] = map[string]string{"pageIndex": "1", "blob": blob}
			}
			_, err := eventsOf(fs, sid).Doc(id).Create(ctx, ev)
			prog.add(1)
			return err
		}); err != nil {
			return res, fmt.Errorf("write events: %w", err)
		}
		if large {
			res.WriteSeconds = time.Since(t0).Seconds()
		}
		run, err := runChild(ctx, project, sid, "e000000")
		if err != nil {
			return res, err
		}
		docs, err := eventsOf(fs, sid).Select("status", "rejectReason").Documents(ctx).GetAll()
		if err != nil {
			return res, fmt.Errorf("count outcomes: %w", err)
		}
		for _, d := range docs {
			switch m := d.Data(); {
			case m["status"] == model.EventAccepted:
				run.Accepted++
			case m["status"] == model.EventRejected && m["rejectReason"] == string(events.ReasonTooLarge):
				run.TooLarge++
			default:
				run.Other++
			}
		}
		if large {
			res.Large = run
		} else {
			res.Small = run
		}
	}
	res.DiffKiB = res.Large.PeakKiB - res.Small.PeakKiB
	return res, nil
}

// runChild runs this binary's rss-child on one session.
func runChild(ctx context.Context, project, sid, eventID string) (MemoryRun, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, rssChildCmd, "-project", project, "-session", sid, "-event", eventID)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return MemoryRun{}, fmt.Errorf("rss child: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var rep childReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return MemoryRun{}, fmt.Errorf("rss child said %q: %w", out, err)
	}
	return MemoryRun{BeforeKiB: rep.BeforeKiB, PeakKiB: rep.PeakKiB, RunKiB: rep.PeakKiB - rep.BeforeKiB, RusageKiB: rep.RusageKiB, Ms: rep.Ms,
		Decided: rep.Decided, Transactions: rep.Transactions}, nil
}

// clearProject deletes every document of a project on the Firestore
// emulator (its REST endpoint for tests).
func clearProject(st *stack, project string) {
	url := fmt.Sprintf("http://%s/emulator/v1/projects/%s/databases/(default)/documents", st.local.FirestoreHost, project)
	req, err := http.NewRequest(http.MethodDelete, url, nil)
	if err != nil {
		return
	}
	if resp, err := st.http.Do(req); err == nil {
		resp.Body.Close()
	}
}

// kib is KiB in MiB.
func kib(k int64) float64 { return float64(k) / 1024 }
