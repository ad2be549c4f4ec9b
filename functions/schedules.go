package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/logging"
	"github.com/pajama-app/sharedexperiences/shared/snapshots"
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

func (a *App) closeStaleSessions() http.Handler {
	return a.scheduled("closeStaleSessions", func(r *http.Request) (any, error) {
		now := time.Now()
		ended, err := a.sessions.EndStale(r.Context(), now.Add(-a.cfg.StaleSessionAfter), now)
		return map[string]any{"ended": ended}, err
	})
}

func (a *App) checkPresence() http.Handler {
	return a.scheduled("checkPresence", func(r *http.Request) (any, error) {
		removed, err := a.sessions.SweepPresence(r.Context(), time.Now(), a.cfg.PresenceGrace)
		return map[string]any{"removed": removed}, err
	})
}

func (a *App) compactSnapshots() http.Handler {
	return a.scheduled("compactSnapshots", func(r *http.Request) (any, error) {
		if !a.cfg.SnapshotsEnabled {
			return map[string]any{"disabled": true}, nil
		}
		ids, err := a.sessions.ActiveIDs(r.Context())
		if err != nil {
			return nil, err
		}
		var results []snapshots.Result
		pruned := 0
		// One session's failure never stops the others: it is reported
		// and logged, and the next run tries it again.
		failed := map[string]string{}
		for _, id := range ids {
			res, n, err := a.compactAndPrune(r.Context(), id)
			if err != nil {
				failed[id] = "compaction failed"
				a.log.ErrorContext(r.Context(), "compaction failed; the next run retries", logging.KeySessionID, id, "error", err.Error())
				continue
			}
			if res.Folded > 0 || res.Rebuilt {
				results = append(results, res)
			}
			pruned += n
		}
		return map[string]any{"compacted": results, "pruned": pruned, "failed": failed}, nil
	})
}

// compactAndPrune folds the session's new events into its snapshot, then
// prunes the events the snapshot covers beyond the retention window.
func (a *App) compactAndPrune(ctx context.Context, sessionID string) (snapshots.Result, int, error) {
	res, err := a.compact.Compact(ctx, sessionID)
	if err != nil {
		return res, 0, err
	}
	n, err := snapshots.Prune(ctx, a.fs, sessionID, time.Now().Add(-a.cfg.EventRetention))
	a.log.InfoContext(ctx, "compacted", logging.KeySessionID, sessionID, "from", res.From, "to", res.To,
		"folded", res.Folded, "rebuilt", res.Rebuilt, "written", res.Written, "pruned", n)
	return res, n, err
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
	return a.scheduled("cleanupEndedSessions", func(r *http.Request) (any, error) {
		done, failed, err := a.sessions.FinalizeEnded(r.Context(), time.Now().Add(-a.cfg.CleanupGrace))
		for id, why := range failed {
			a.log.ErrorContext(r.Context(), "finalize failed; next run retries", logging.KeySessionID, id, "error", why)
		}
		return map[string]any{"finalized": done, "failed": failed}, err
	})
}
