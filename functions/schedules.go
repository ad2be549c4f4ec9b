package functions

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/logging"
)

// scheduled adapts a periodic job to the HTTP function Cloud Scheduler
// invokes (POST, OIDC-authenticated by Cloud Run in production). The job's
// summary is the response body, so an on-demand run shows what it did.
func (a *App) scheduled(name string, job func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		start := time.Now()
		summary, err := job(r)
		log := a.log.With(logging.KeyFunction, name, "latencyMs", time.Since(start).Milliseconds())
		if err != nil {
			log.ErrorContext(r.Context(), "scheduled job failed", "error", err.Error())
			http.Error(w, "job failed", http.StatusInternalServerError)
			return
		}
		log.InfoContext(r.Context(), "scheduled job done", "summary", summary)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(summary)
	})
}

// Queued is a fan-out schedule's summary: the sessions it found needing
// work, each sent to maintainSession as its own session-work message.
type Queued struct {
	Task     string   `json:"task"`
	Sessions []string `json:"sessions"`
}

// fanOut is a schedule that finds the sessions needing one task with an
// indexed query (its cost grows with them, not with the active sessions)
// and queues one message per session.
func (a *App) fanOut(name, task string, find func(context.Context) ([]Work, error)) http.Handler {
	return a.scheduled(name, func(r *http.Request) (any, error) {
		work, err := find(r.Context())
		if err != nil {
			return nil, err
		}
		out := Queued{Task: task, Sessions: make([]string, len(work))}
		for i, w := range work {
			out.Sessions[i] = w.SessionID
		}
		switch {
		case len(work) == 0:
			return out, nil
		case a.work == nil:
			return out, errors.New("no work queue (Deps.Work) to send the sessions to")
		}
		return out, a.work.Enqueue(r.Context(), work)
	})
}

func sessionWork(task string, ids []string) []Work {
	out := make([]Work, len(ids))
	for i, id := range ids {
		out[i] = Work{Task: task, SessionID: id}
	}
	return out
}

func (a *App) closeStaleSessions() http.Handler {
	return a.fanOut("closeStaleSessions", TaskStale, func(ctx context.Context) ([]Work, error) {
		ids, err := a.sessions.StaleIDs(ctx, a.now().Add(-a.cfg.StaleSessionAfter))
		return sessionWork(TaskStale, ids), err
	})
}

func (a *App) checkPresence() http.Handler {
	return a.fanOut("checkPresence", TaskPresence, func(ctx context.Context) ([]Work, error) {
		silent, err := a.sessions.SilentHeartbeats(ctx, a.now().Add(-a.cfg.PresenceGrace))
		out := make([]Work, len(silent))
		for i, s := range silent {
			out[i] = Work{Task: TaskPresence, SessionID: s.SessionID, UIDs: s.UIDs}
		}
		return out, err
	})
}

func (a *App) compactSnapshots() http.Handler {
	return a.fanOut("compactSnapshots", TaskCompact, func(ctx context.Context) ([]Work, error) {
		if !a.cfg.SnapshotsEnabled {
			return nil, nil
		}
		due, err := a.compact.Due(ctx)
		out := make([]Work, len(due))
		for i := range due {
			out[i] = Work{Task: TaskCompact, SessionID: due[i].SessionID, Due: &due[i]}
		}
		return out, err
	})
}

// sweepPendingEvents decides the events whose triggers were lost for good
// (see events.Sequencer.SweepPending); a run with nothing pending costs a
// few reads whatever the number of sessions.
func (a *App) sweepPendingEvents() http.Handler {
	return a.scheduled("sweepPendingEvents", func(r *http.Request) (any, error) {
		return a.seq.SweepPending(r.Context(), a.cfg.PendingSweepAge)
	})
}

func (a *App) cleanupEndedSessions() http.Handler {
	return a.fanOut("cleanupEndedSessions", TaskFinalize, func(ctx context.Context) ([]Work, error) {
		ids, err := a.sessions.EndedUnfinalized(ctx, a.now().Add(-a.cfg.CleanupGrace))
		return sessionWork(TaskFinalize, ids), err
	})
}
