package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Messages, help and docs name flags by their kebab-case spelling: the
// snake_case one is deprecated. Only the docs' notes on the renaming name
// an old spelling.
func TestNoOldFlagSpellings(t *testing.T) {
	old := regexp.MustCompile(`--[a-z0-9]+(_[a-z0-9]+)+`)
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "../.." && (strings.HasPrefix(name, ".") || name == "dist" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if strings.HasSuffix(path, "_test.go") || (ext != ".go" && ext != ".md" && ext != ".service" && ext != ".html" && d.Name() != "Dockerfile") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := old.FindString(line); m != "" && !strings.Contains(line, "snake_case") && !strings.Contains(line, "earlier releases") {
				t.Errorf("%s:%d names the old flag spelling %s: %s", path, i+1, m, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Help texts name other settings by their flags.
	for _, s := range settings {
		for _, other := range settings {
			if strings.Contains(other.name, "_") && strings.Contains(s.usage, other.name) {
				t.Errorf("the help of --%s names %s; write --%s", flagName(s.name), other.name, flagName(other.name))
			}
		}
	}
}
