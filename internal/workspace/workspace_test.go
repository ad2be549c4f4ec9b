package workspace

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultProject(t *testing.T) {
	tests := []struct {
		name, rc, want, msg string
	}{
		{"default", `{"projects": {"default": "example-prod"}}`, "example-prod", ""},
		{"no default", `{"projects": {}}`, "", "projects.default"},
		{"not JSON", `{"projects": `, "", ".firebaserc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, ".firebaserc"), []byte(tt.rc), 0o644))
			p, err := DefaultProject(dir)
			if tt.msg != "" {
				require.ErrorContains(t, err, tt.msg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, p)
		})
	}
	_, err := DefaultProject(t.TempDir())
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	require.Equal(t, "workspace", filepath.Base(mustGetwd(t)))
	require.Equal(t, filepath.Dir(filepath.Dir(mustGetwd(t))), root)
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return wd
}
