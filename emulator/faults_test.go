package emulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFaultsFromEnv: `make run` delivers under production's conditions
// unless a variable says otherwise, and every variable can turn its fault
// back off.
func TestFaultsFromEnv(t *testing.T) {
	keys := []string{"EMULATOR_DELIVERY_CONCURRENCY", "EMULATOR_COPIES", "EMULATOR_DUPLICATE_RATE", "EMULATOR_DROP_RATE",
		"EMULATOR_REORDER_WINDOW", "EMULATOR_MIN_LATENCY", "EMULATOR_MAX_LATENCY", "EMULATOR_MAX_ATTEMPTS",
		"EMULATOR_MIN_BACKOFF", "EMULATOR_MAX_BACKOFF", "EMULATOR_FAULT_SEED"}
	tests := []struct {
		name    string
		env     map[string]string
		want    Faults
		wantErr bool
	}{
		{"no variable: production's conditions", nil,
			Faults{Concurrency: ProductionConcurrency, DuplicateRate: ProductionDuplicateRate}, false},
		{"the test stack's delivery, asked for", map[string]string{
			"EMULATOR_DELIVERY_CONCURRENCY": "1", "EMULATOR_DUPLICATE_RATE": "0", "EMULATOR_MAX_ATTEMPTS": "1"},
			Faults{Concurrency: 1, MaxAttempts: 1}, false},
		{"latency and reorder added", map[string]string{"EMULATOR_MAX_LATENCY": "2s", "EMULATOR_REORDER_WINDOW": "50ms"},
			Faults{Concurrency: ProductionConcurrency, DuplicateRate: ProductionDuplicateRate,
				MaxLatency: 2 * time.Second, ReorderWindow: 50 * time.Millisecond}, false},
		{"bad value", map[string]string{"EMULATOR_DUPLICATE_RATE": "often"}, Faults{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range keys {
				t.Setenv(k, tt.env[k])
			}
			got, err := FaultsFromEnv()
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFaultsString(t *testing.T) {
	tests := []struct {
		faults Faults
		want   string
	}{
		{ProductionFaults(), "concurrency 16, duplicates 2%, retries up to 20 attempts (back-off 100ms to 5s) for functions declared with retry"},
		{Faults{}, "concurrency 1, no duplicates, retries up to 20 attempts (back-off 100ms to 5s) for functions declared with retry"},
		{Faults{MaxAttempts: 1, Copies: 3, MaxLatency: time.Second, ReorderWindow: 40 * time.Millisecond, DropRate: 0.5},
			"concurrency 1, every trigger 3 times, no retries, latency 0s to 1s, reorder window 40ms, drops 50%"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.faults.String())
	}
}
