package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// The walkthroughs of README.md and docs/getting-started.md run here as
// written: their shell blocks, in order, with bash, against a real Herald
// and a real receiver, in an empty directory with an empty HOME (a fresh
// machine has no ~/.ssh). HERALD and RECEIVER, which the docs let a reader
// set, point them at the test's servers; a preamble makes the run strict
// (bash -e, curl failing on an error status). What the text promises is
// then checked: the events and the bodies it shows reach the receiver.

// walkthroughPassword is the admin password the docs start Herald with.
const walkthroughPassword = "change-me-now"

// walkthroughSkip, on the line before a shell block, leaves the block out
// of the run (it starts a server the test provides itself).
const walkthroughSkip = "<!-- walkthrough: not run -->"

func TestWalkthroughREADME(t *testing.T) {
	t.Parallel()
	readme := readRepoFile(t, "README.md")
	blocks := shellBlocks(readme, "A first session with curl", "Webhooks")
	if len(blocks) < 3 {
		t.Fatalf("README.md: found %d shell blocks in its walkthrough, want the session, the webhook and its delivery log", len(blocks))
	}
	createdBody := firstJSONBlock(t, readme, "A first session with curl")

	// Herald is not new: a user, a job and a webhook exist already, so
	// the ids the walkthrough meets are not 1, and a walkthrough that
	// assumed them would fail.
	earlier := func(s *testServer) {
		admin := s.login("admin", walkthroughPassword)
		admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
			"username": "earlier", "first_name": "E", "last_name": "Arlier", "email": "earlier@example.com",
		}, nil)
		admin.addWebhook(newReceiver(t).URL, nil)
		admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "earlier", "worker": "station0"}, nil)
	}
	s, rc, dir := runWalkthrough(t, blocks, earlier, "curl", "sed", "ssh-keygen")
	admin := s.login("admin", walkthroughPassword)

	// The event feed: every change of the session, in order, the body
	// shown in the README among them, and the key made in the session.
	var feed []event
	for _, e := range admin.eventsAfter(0) {
		if e.Subject == "user:jdoe" || e.Subject == "group:devs" {
			feed = append(feed, e)
		}
	}
	demoKey := strings.TrimSpace(readFile(t, filepath.Join(dir, "demo_key.pub")))
	wantEvents(t, feed,
		[3]string{"user_created", "user:jdoe", createdBody},
		[3]string{"group_created", "group:devs", `{"name":"devs","members":["jdoe"],"is_admin":false}`},
		[3]string{"user_modified", "user:jdoe", ""},
		[3]string{"user_keys", "user:jdoe", ""},
		[3]string{"user_deleted", "user:jdoe", `{"username":"jdoe"}`},
		[3]string{"group_modified", "group:devs", `{"name":"devs","members":[],"is_admin":false}`},
	)
	var keys struct {
		SSHKey string `json:"ssh_key"`
	}
	if err := json.Unmarshal(feed[3].Payload, &keys); err != nil || keys.SSHKey != demoKey {
		t.Errorf("user_keys carries ssh_key %q, want the walkthrough's demo_key.pub %q", keys.SSHKey, demoKey)
	}

	// The receiver: the replay brings the user events since the date it
	// names (the admin's and earlier's creations, jdoe's four), the redelivery one
	// more (or none, when it comes while that delivery is still queued),
	// the test action webhook_test; each with the
	// documented headers, signed with the secret the answer showed.
	var hook webhook
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "webhook.json"))), &hook); err != nil {
		t.Fatalf("webhook.json, the answer the README saves: %v", err)
	}
	got := rc.waitFor(7, 10*time.Second)
	seen := map[string]int{}
	for _, r := range got {
		seen[r.event()]++
		if r.Method != "GET" || r.Header.Get("Authorization") != "Bearer my-secret-token" {
			t.Errorf("%s came as %s with Authorization %q; the README promises GET and Bearer my-secret-token", r.event(), r.Method, r.Header.Get("Authorization"))
		}
		if err := verifySignature(hook.SigningSecret, r.Header, r.Body); err != nil {
			t.Errorf("%s: %v", r.event(), err)
		}
		if r.event() == "user_created" && r.username() == "jdoe" && string(r.Body) != createdBody {
			t.Errorf("user_created body is\n%s\nthe README shows\n%s", r.Body, createdBody)
		}
	}
	for _, ev := range []string{"user_created", "user_modified", "user_keys", "user_deleted", "webhook_test"} {
		if seen[ev] == 0 {
			t.Errorf("the receiver never got %s; it got %v", ev, seen)
		}
	}
	if len(got) > 8 || seen["group_created"]+seen["group_modified"] != 0 {
		t.Errorf("the receiver got %v, want six user events, one redelivered, and webhook_test", seen)
	}
}

func TestWalkthroughGettingStarted(t *testing.T) {
	t.Parallel()
	doc := readRepoFile(t, filepath.Join("docs", "getting-started.md"))
	blocks := shellBlocks(doc, "3. Your first webhook in five minutes")
	if len(blocks) < 2 {
		t.Fatalf("docs/getting-started.md: found %d shell blocks to run in step 3, want the webhook and the user", len(blocks))
	}
	_, rc, _ := runWalkthrough(t, blocks, nil, "curl")
	// "The receiver prints `user_created jdoe`."
	got := rc.waitFor(1, 10*time.Second)
	if r := got[0]; r.event() != "user_created" || r.username() != "jdoe" || r.Header.Get("Authorization") != "Bearer my-secret-token" {
		t.Errorf("the receiver got %s for %q with Authorization %q, want user_created for jdoe with Bearer my-secret-token", r.event(), r.username(), r.Header.Get("Authorization"))
	}
}

// runWalkthrough starts Herald as the docs do, calls prepare (if not nil)
// and starts a receiver, then runs the blocks with bash in an empty directory, which it returns. Every
// curl must succeed: an error status from Herald stops the script. The
// tools the blocks use must be on PATH (the test skips without them,
// except under CI=true).
func runWalkthrough(t *testing.T, blocks []string, prepare func(*testServer), tools ...string) (*testServer, *receiver, string) {
	t.Helper()
	bash := findTool(t, "bash", "/bin/bash")
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			findTool(t, tool) // skips, or fails under CI=true
		}
	}
	s := startServer(t, func(c *app.Config) { c.AdminPassword = walkthroughPassword })
	if prepare != nil {
		prepare(s)
	}
	rc := newReceiver(t)
	dir := t.TempDir()
	// The docs' commands run unchanged; the preamble only makes the run
	// strict (-e, and curl failing on an error status) and traced.
	script := "set -euo pipefail -x\n" +
		"curl() { command curl --silent --show-error --fail-with-body \"$@\"; }\n" +
		strings.Join(blocks, "\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir, "LANG=C.UTF-8",
		"HERALD=" + s.URL, "RECEIVER=" + rc.URL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough failed (%v); its commands and output:\n%s", err, out)
	}
	t.Logf("the walkthrough's commands and output:\n%s", out)
	return s, rc, dir
}

// shellBlocks returns the sh and bash blocks under the given second-level
// headings, in order, without the indentation of a list item, leaving out
// those marked with walkthroughSkip.
func shellBlocks(markdown string, headings ...string) []string {
	var blocks []string
	var section string
	var block []string
	inFence, run, skipNext := false, false, false
	indent := ""
	for _, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimSpace(line)
		if inFence {
			if trimmed == "```" {
				inFence = false
				if run {
					blocks = append(blocks, strings.Join(block, "\n"))
				}
				continue
			}
			block = append(block, strings.TrimPrefix(line, indent))
			continue
		}
		switch {
		case strings.HasPrefix(trimmed, "```"):
			inFence, block = true, nil
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
			lang := strings.TrimPrefix(trimmed, "```")
			run = (lang == "sh" || lang == "bash") && !skipNext && slices.Contains(headings, section)
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		}
		skipNext = trimmed == walkthroughSkip
	}
	return blocks
}

// firstJSONBlock returns the first json block under a second-level heading.
func firstJSONBlock(t *testing.T, markdown, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(markdown, "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("no heading %q", heading)
	}
	rest, _, _ = strings.Cut(rest, "\n## ")
	_, body, ok := strings.Cut(rest, "```json\n")
	if !ok {
		t.Fatalf("no json block under %q", heading)
	}
	body, _, _ = strings.Cut(body, "```")
	return strings.TrimSpace(body)
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	return readFile(t, filepath.Join(repoRoot(t), name))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}
