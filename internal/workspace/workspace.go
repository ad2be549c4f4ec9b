// Package workspace answers two questions the developer tools (the local
// runner in emulator/, the deploy in deploy/) ask about the checkout they
// run in: where the module root is, and which project .firebaserc names.
// Nothing deployed imports it.
package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ModuleRoot finds the directory of the nearest go.mod from the working
// directory upwards: the tools use paths relative to it, wherever they are
// started.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod in this directory or above")
		}
		dir = parent
	}
}

// DefaultProject reads projects.default from root/.firebaserc, the project
// the firebase CLI would use.
func DefaultProject(root string) (string, error) {
	var rc struct {
		Projects map[string]string `json:"projects"`
	}
	data, err := os.ReadFile(filepath.Join(root, ".firebaserc"))
	if err != nil {
		return "", fmt.Errorf("default project: %w", err)
	}
	if err := json.Unmarshal(data, &rc); err != nil {
		return "", fmt.Errorf("default project: .firebaserc: %w", err)
	}
	if rc.Projects["default"] == "" {
		return "", errors.New("default project: .firebaserc has no projects.default")
	}
	return rc.Projects["default"], nil
}
