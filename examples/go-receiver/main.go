// Command go-receiver is a small, complete receiver of Herald's webhooks,
// written with the standard library only (docs/receivers.md explains every
// step). It checks the bearer token and the Standard Webhooks signature,
// drops duplicates by webhook-id, and prints one line per event to stdout:
//
//	user_created jdoe
//	group_deleted devs
//
// Settings come from the environment:
//
//	RECEIVER_ADDR          address to listen on (default 127.0.0.1:9000)
//	HERALD_SIGNING_SECRET  the webhook's signing_secret, "whsec_..." (required)
//	HERALD_TOKEN           the webhook's secret token; checked when set
//
// Run it with: go run ./examples/go-receiver
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tolerance is how far webhook-timestamp may be from now. Herald stamps
// every attempt afresh, so only a replayed (captured) request is older.
const tolerance = 5 * time.Minute

func main() {
	addr := os.Getenv("RECEIVER_ADDR")
	if addr == "" {
		addr = "127.0.0.1:9000"
	}
	secret := os.Getenv("HERALD_SIGNING_SECRET")
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) == 0 {
		log.Fatal("set HERALD_SIGNING_SECRET to the webhook's signing_secret (whsec_...)")
	}
	r := &receiver{key: key, token: os.Getenv("HERALD_TOKEN"), seen: newIDSet(10000)}
	log.Printf("listening on http://%s", addr)
	srv := &http.Server{Addr: addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

type receiver struct {
	key   []byte // the decoded signing secret
	token string // "" means: do not check Authorization
	seen  *idSet
}

// ServeHTTP handles a request on any path.
func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Herald sends GET by default (as Defguard does), with a JSON body.
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if rc.token != "" {
		want := []byte("Bearer " + rc.token)
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			reject(w, "wrong or missing bearer token")
			return
		}
	}
	id := r.Header.Get("webhook-id")
	if err := rc.verify(id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body); err != nil {
		reject(w, err.Error())
		return
	}
	// At least once: a retry or a redelivery carries the same webhook-id.
	// Answer 2xx so Herald stops, but do the work only once.
	if !rc.seen.add(id) {
		fmt.Fprintf(w, "duplicate %s ignored\n", id)
		return
	}
	event := r.Header.Get("X-Defguard-Event")
	// A webhook with format "envelope" wraps the body: {"id", "type",
	// "occurred_at", "actor", "data", "previous", "changed"}, data being
	// the body a "defguard" webhook gets. Take data, and see who did it.
	var env struct {
		Data    json.RawMessage `json:"data"`
		Actor   struct{ Type, Username, Station string }
		Changed []string `json:"changed"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Data) > 0 {
		log.Printf("%s by %s %s%s, changed %v", event, env.Actor.Type, env.Actor.Username, env.Actor.Station, env.Changed)
		body = env.Data
	}
	var b struct {
		Username  string `json:"username"`   // user_* events
		Name      string `json:"name"`       // group_* events
		WebhookID int64  `json:"webhook_id"` // webhook_test
	}
	if err := json.Unmarshal(body, &b); err != nil {
		rc.seen.remove(id) // not handled: let a retry try again
		http.Error(w, "body is not a JSON object", http.StatusBadRequest)
		return
	}
	// Do the real work here (send a welcome mail, close an account...). If
	// it fails, call rc.seen.remove(id) and answer 5xx: Herald will retry.
	switch event {
	case "user_created", "user_modified", "user_deleted", "user_keys":
		fmt.Printf("%s %s\n", event, b.Username)
	case "group_created", "group_modified", "group_deleted":
		fmt.Printf("%s %s\n", event, b.Name)
	case "webhook_test":
		fmt.Printf("%s %d\n", event, b.WebhookID)
	default:
		// A newer Herald may send events this code does not know yet:
		// accept them, or Herald would retry them for a day.
		log.Printf("ignoring unknown event %q", event)
	}
	fmt.Fprintln(w, "ok")
}

// verify checks webhook-signature per the Standard Webhooks spec: the
// HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed with the secret, base64,
// after "v1,". During a secret rotation Herald sends two signatures
// separated by a space; one matching is enough.
func (rc *receiver) verify(id, timestamp, signatures string, body []byte) error {
	if id == "" || timestamp == "" || signatures == "" {
		return fmt.Errorf("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp is not Unix seconds")
	}
	// Reject old (replayed) requests, and ones from the future too.
	if d := time.Since(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp is %v away from now", d.Round(time.Second))
	}
	mac := hmac.New(sha256.New, rc.key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body) // the raw bytes as received, never re-encoded JSON
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(signatures) {
		version, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid signature")
}

// reject answers 401. Herald retries it, so a misconfigured secret shows up
// as retrying deliveries in Herald's delivery log.
func reject(w http.ResponseWriter, why string) {
	log.Printf("rejected: %s", why)
	http.Error(w, why, http.StatusUnauthorized)
}

// idSet remembers the last limit webhook-ids seen. In memory, it forgets
// everything on restart: in production, keep the ids in your database, in
// the same transaction as the work they stand for.
type idSet struct {
	mu    sync.Mutex
	limit int
	ids   map[string]bool
	order []string // oldest first, to forget the oldest when full
}

func newIDSet(limit int) *idSet { return &idSet{limit: limit, ids: map[string]bool{}} }

// add records id and reports whether it was new.
func (s *idSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids[id] {
		return false
	}
	if len(s.order) >= s.limit {
		delete(s.ids, s.order[0])
		s.order = s.order[1:]
	}
	s.ids[id] = true
	s.order = append(s.order, id)
	return true
}

// remove forgets id, so that its next delivery is handled again.
func (s *idSet) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
	for i, old := range s.order {
		if old == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}
