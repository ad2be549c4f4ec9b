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
		FunctionsEnv: []string{"STALE_SESSION_AFTER=1h"},
	}, &env))
}
