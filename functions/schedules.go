package functions

import (
	"encoding/json"
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

func (a *App) closeStaleSessions() http.Handler {
	return a.scheduled("closeStaleSessions", func(r *http.Request) (any, error) {
		now := time.Now()
		ended, err := a.sessions.EndStale(r.Context(), now.Add(-a.cfg.StaleSessionAfter), now)
		return map[string]any{"ended": ended}, err
	})
}
