package functions_test

import (
	"os"
	"testing"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
)

// env is the local stack shared by this package's integration tests.
var env *emulatortest.Env

func TestMain(m *testing.M) {
	os.Exit(emulatortest.Main(m, emulator.Options{
		// The session rate is raised so the throughput tests measure the
		// pipeline, not the limit; the sender limit keeps its default
		// (20/s, bursts of 40), which the rate_limited case relies on.
		// Automatic compaction is left to the tests that ask for it (a
		// crafted experience-events message, or the schedule on demand),
		// so that "before compaction" means it.
		FunctionsEnv: []string{"STALE_SESSION_AFTER=1h", "SESSION_EVENTS_PER_SECOND=5000", "COMPACTION_THRESHOLD=1000000",
			// The cleanup test ends its session and finalizes it at once.
			"CLEANUP_GRACE=0s",
			// The pending sweep decides at once what TestSweepPending drops.
			"PENDING_SWEEP_AGE=0s",
			// Small abuse limits, so TestAbuseLimits reaches them quickly.
			"MAX_PARTICIPANTS=12", "SESSIONS_PER_USER_PER_MINUTE=3"},
	}, &env))
}
