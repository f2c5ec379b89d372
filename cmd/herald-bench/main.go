// Command herald-bench measures Herald end to end: it starts the real
// "herald serve" as a child process (a fresh database per scenario), drives
// it through its HTTP API as a client would, and counts the webhook requests
// that reach a receiver on loopback.
//
//	go run ./cmd/herald-bench                      every scenario, SQLite, a table
//	go run ./cmd/herald-bench -quick               a smoke run (< 60 s)
//	go run ./cmd/herald-bench -json                one JSON object on stdout
//	go run ./cmd/herald-bench -scenario backlog    one scenario
//	go run ./cmd/herald-bench -database postgres://postgres@127.0.0.1:5432/test
//	go run ./cmd/herald-bench -herald ./herald     a prebuilt binary
//	go run ./cmd/herald-bench -keep                keep herald's logs and SQLite databases
//	go run ./cmd/herald-bench -backlog 200000      a smaller backlog than 1,000,000
//
// Ctrl-C stops every herald and prints the results of the scenarios
// finished so far.
//
// With a postgres:// URL, each scenario runs on a database of its own,
// created on that server and dropped afterwards (the URL's user must be
// allowed to CREATE DATABASE). Between scenarios, and between the runs a
// scenario compares (isolation, cluster, scim), the bench drops the
// databases of the runs done and runs CHECKPOINT (settle), so that no run
// starts while the server still writes out the one before it; a user
// not allowed to CHECKPOINT gets a line on stderr.
//
// Scenarios (full size; -quick divides each by about 100):
//
//   - throughput (throughput.go): 10 webhooks, 20,000 users created by 32
//     clients = 200,000 deliveries; deliveries/s at the receiver from the
//     first to the last arrival. Then, with Herald stopped, a plain keep-alive
//     Go client sends 200,000 requests just like Herald's (same body, same
//     headers, signed) with 160 goroutines (Herald's cap: 16 per webhook) to
//     the same receiver: baseline_requests_per_sec, and ratio = Herald/baseline.
//   - latency (latency.go): 3 webhooks; users created at a steady 500/s for
//     20 s, each call in its own goroutine; latency of a delivery = its
//     arrival at the receiver minus the moment the API call that caused it
//     returned (matched by username). A delivery that arrives before the API
//     answer counts as 0 ms. The same deliveries are also measured from
//     the moment the API request was sent (p50/p99/max_from_request_ms).
//   - isolation (isolation.go): a healthy webhook alone, 20,000 users; then
//     a fresh Herald where a "blackhole" webhook (accepts connections, never
//     answers) is created first, beside the healthy one, 20,000 users.
//     healthy deliveries/s (first to last arrival) with / alone = ratio.
//   - backlog (backlog.go): 1,000,000 deliveries queued while the receiver
//     is down, then drained, with a graceful restart half way; see the
//     procedure at the top of backlog.go.
//   - api (apiscenario.go): 10 webhooks, receiver up; 10,000 users created
//     by 32 clients; user_creates_per_sec, and the CPU each user cost
//     Herald, a local PostgreSQL and the bench, with how busy the machine
//     was (Linux: cpuuse.go).
//   - -filters (filters.go), with throughput and api only: half the
//     webhooks have ignore_actors and only_groups, decided by the fan-out.
//     -webhooks N (throughput and api only) subscribes N webhooks instead
//     of 10: -webhooks 5 is -filters's baseline with as many rows.
//   - cluster (cluster.go, PostgreSQL only; skipped on SQLite): 10
//     webhooks, 20,000 users by 32 clients against one Herald, or against
//     three Herald processes on one fresh database (clients spread over
//     the three APIs), four runs: one, three, three, one. Each kind's mean
//     rate and their ratio, p99 from the request, duplicates, the most
//     requests in flight at one webhook, and CPU per user as in api.
//   - statements (statements.go, PostgreSQL only): 10 webhooks, 2,000
//     users by 32 clients; the statements (round trips) Herald sent per
//     user created and per delivery, counted by pg_stat_statements.
//   - scim (scimbench.go): 20,000 users by 32 clients to one webhook, then
//     on a fresh Herald to one SCIM target (the bench's own minimal SCIM
//     endpoint): changes/s at the endpoint (first to last POST /Users),
//     p99 from the API request, the webhook's deliveries/s, and their
//     ratio (ratio_to_webhook).
//
// Output (-json): exactly one object on stdout; progress goes to stderr.
// Scenarios that were not run are left out of the object. The exit status
// is 1 if a figure cannot be right (a zero rate, percentiles out of order:
// sanity.go), so a smoke run in CI fails on it; no speed is asserted.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// results is the -json output. A scenario not run stays nil and is omitted.
type results struct {
	Machine  string `json:"machine"`
	Database string `json:"database"`
	// Filters: run with -filters (half the webhooks filter; filters.go).
	Filters    bool               `json:"filters,omitempty"`
	Throughput *throughputResult  `json:"throughput,omitempty"`
	Latency    *latencyResult     `json:"latency,omitempty"`
	Isolation  *isolationResult   `json:"isolation,omitempty"`
	Backlog    *backlogResult     `json:"backlog,omitempty"`
	API        *apiScenarioResult `json:"api,omitempty"`
	Cluster    *clusterResult     `json:"cluster,omitempty"`
	Statements *statementsResult  `json:"statements,omitempty"`
	SCIM       *scimResult        `json:"scim,omitempty"`
}

var scenarios = []string{"throughput", "latency", "isolation", "backlog", "api", "cluster", "scim", "statements"}

func main() {
	scenario := flag.String("scenario", "all", "all, or one of "+strings.Join(scenarios, ", "))
	database := flag.String("database", "", "a postgres:// URL to run on PostgreSQL (default: a fresh SQLite file per scenario)")
	quick := flag.Bool("quick", false, "a small smoke run: every scenario about 100 times smaller")
	asJSON := flag.Bool("json", false, "print one JSON object on stdout (progress goes to stderr)")
	heraldBin := flag.String("herald", "", "a prebuilt herald binary (default: go build ./cmd/herald)")
	keep := flag.Bool("keep", false, "keep the temporary folder (herald logs, SQLite databases)")
	backlogSize := flag.Int("backlog", 0, "deliveries to queue in the backlog scenario (default 1000000; 10000 with -quick)")
	filters := flag.Bool("filters", false, "throughput and api only: half the webhooks have ignore_actors and only_groups that the bench's events do not pass (see filters.go)")
	webhooks := flag.Int("webhooks", defaultHooks, "throughput and api only: how many webhooks, 1 to 100; -webhooks 5 writes as many deliveries per user as -filters does (see filters.go)")
	flag.Parse()

	var run []string
	if *scenario == "all" {
		run = scenarios
	} else {
		for _, s := range strings.Split(*scenario, ",") {
			if !contains(scenarios, s) {
				fmt.Fprintf(os.Stderr, "herald-bench: unknown scenario %q (want all or one of %s)\n", s, strings.Join(scenarios, ", "))
				os.Exit(2)
			}
			run = append(run, s)
		}
	}

	given := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { given["-"+f.Name] = true })
	switch {
	case *webhooks < 1 || *webhooks > 100:
		fmt.Fprintf(os.Stderr, "herald-bench: -webhooks %d: want 1 to 100\n", *webhooks)
		os.Exit(2)
	case *filters && given["-webhooks"]:
		// -webhooks 5 is what a -filters run is compared with (filters.go).
		fmt.Fprintln(os.Stderr, "herald-bench: give -filters or -webhooks, not both: -webhooks 5 is the run a -filters run is compared with")
		os.Exit(2)
	}
	for flagName, set := range map[string]bool{"-filters": *filters, "-webhooks": given["-webhooks"]} {
		for _, name := range run {
			if set && name != "throughput" && name != "api" {
				fmt.Fprintf(os.Stderr, "herald-bench: %s applies to the throughput and api scenarios only, not %s (use -scenario throughput,api)\n", flagName, name)
				os.Exit(2)
			}
		}
	}

	b, err := newBench(*database, *quick, *heraldBin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "herald-bench:", err)
		os.Exit(1)
	}
	b.backlogSize = *backlogSize
	b.filters = *filters
	b.webhooks = *webhooks
	output := func(res *results) {
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				fmt.Fprintln(os.Stderr, "herald-bench:", err)
				os.Exit(1)
			}
			return
		}
		printTable(res)
	}
	// Ctrl-C: leave no herald behind, and print the scenarios finished.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		b.logf("interrupted; stopping; the results of the scenarios finished so far follow (logs kept in %s)", b.tmp)
		b.killAll()
		b.dropDatabases()
		output(b.partial())
		os.Exit(130)
	}()

	res, err := b.run(run)
	b.killAll()
	b.dropDatabases()
	if err != nil {
		fmt.Fprintln(os.Stderr, "herald-bench:", err)
		fmt.Fprintln(os.Stderr, "herald-bench: logs of the herald processes are kept in", b.tmp)
		os.Exit(1)
	}
	if *keep {
		b.logf("kept %s", b.tmp)
	} else {
		os.RemoveAll(b.tmp)
	}
	output(res)
	if problems := res.insane(); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "herald-bench: figure out of bounds:", p)
		}
		os.Exit(1)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bench is what every scenario shares.
type bench struct {
	quick     bool
	postgres  string // the server's URL, or "" for SQLite
	secretKey string // HERALD_SECRET_KEY on PostgreSQL
	bin       string // the herald binary
	tmp       string // temporary directory: databases, logs, the binary
	start     time.Time
	dropDBs   []string
	// filters: half of each scenario's webhooks filter (filters.go).
	filters bool
	// webhooks: how many webhooks throughput and api subscribe.
	webhooks int
	// backlogSize overrides the backlog scenario's size (deliveries).
	backlogSize int

	mu    sync.Mutex // procs, res and dropDBs: also used by the Ctrl-C handler
	procs map[*heraldProc]bool
	res   results
}

func newBench(database string, quick bool, bin string) (*bench, error) {
	b := &bench{quick: quick, start: time.Now(), procs: map[*heraldProc]bool{}}
	switch {
	case database == "":
	case strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://"):
		b.postgres = database
		b.secretKey = "herald-bench-" + randomText()
	default:
		return nil, fmt.Errorf("-database: want a postgres:// URL (SQLite is the default: a fresh file per scenario)")
	}
	tmp, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, err
	}
	b.tmp = tmp
	if bin != "" {
		if b.bin, err = filepath.Abs(bin); err != nil {
			return nil, err
		}
		return b, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	b.bin = filepath.Join(tmp, "herald")
	b.logf("building herald (go build ./cmd/herald in %s)", root)
	cmd := exec.Command("go", "build", "-o", b.bin, "./cmd/herald")
	cmd.Dir = root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/herald: %w", err)
	}
	return b, nil
}

// moduleRoot walks up from the working directory to the folder with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it: run from the Herald module, or pass -herald")
		}
		dir = parent
	}
}

func (b *bench) run(names []string) (*results, error) {
	b.mu.Lock()
	b.res = results{Machine: machine(), Database: "sqlite", Filters: b.filters}
	if b.postgres != "" {
		b.res.Database = "postgres"
	}
	b.mu.Unlock()
	b.logf("machine: %s; database: %s; quick: %v", b.res.Machine, b.res.Database, b.quick)
	for i, name := range names {
		b.logf("=== scenario %s (load average %s) ===", name, loadAverage())
		start := time.Now()
		var err error
		switch name {
		case "throughput":
			var r *throughputResult
			r, err = b.throughput()
			b.record(func(res *results) { res.Throughput = r })
		case "latency":
			var r *latencyResult
			r, err = b.latency()
			b.record(func(res *results) { res.Latency = r })
		case "isolation":
			var r *isolationResult
			r, err = b.isolation()
			b.record(func(res *results) { res.Isolation = r })
		case "backlog":
			var r *backlogResult
			r, err = b.backlog()
			b.record(func(res *results) { res.Backlog = r })
		case "api":
			var r *apiScenarioResult
			r, err = b.apiScenario()
			b.record(func(res *results) { res.API = r })
		case "cluster":
			if b.postgres == "" {
				b.logf("cluster: skipped: several instances share a database only on PostgreSQL (-database postgres://...)")
				continue
			}
			var r *clusterResult
			r, err = b.cluster()
			b.record(func(res *results) { res.Cluster = r })
		case "scim":
			var r *scimResult
			r, err = b.scim()
			b.record(func(res *results) { res.SCIM = r })
		case "statements":
			if b.postgres == "" {
				b.logf("statements: skipped: it counts what PostgreSQL runs (-database postgres://...)")
				continue
			}
			var r *statementsResult
			r, err = b.statements()
			b.record(func(res *results) { res.Statements = r })
		}
		b.killAll()
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", name, err)
		}
		b.logf("=== scenario %s done in %v (load average %s) ===", name, time.Since(start).Round(time.Second), loadAverage())
		if i < len(names)-1 {
			b.settle()
		}
	}
	return b.partial(), nil
}

// record stores a scenario's result.
func (b *bench) record(set func(*results)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	set(&b.res)
}

// partial returns a copy of the results so far.
func (b *bench) partial() *results {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.res
	return &r
}

// scale returns full, or about a hundredth of it with -quick.
func (b *bench) scale(full, quick int) int {
	if b.quick {
		return quick
	}
	return full
}

// logf prints progress to stderr, with the time since the start.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%7.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

// killAll kills every herald still running (after a failure or at the end).
func (b *bench) killAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for p := range b.procs {
		p.kill()
		delete(b.procs, p)
	}
}

// dropDatabases drops the PostgreSQL databases the scenarios made. Each
// stays on the list until its drop has been tried, so that the Ctrl-C
// handler, should it run meanwhile, drops it too (DROP ... IF EXISTS); a
// failed drop is logged and not tried again.
func (b *bench) dropDatabases() {
	for {
		b.mu.Lock()
		if len(b.dropDBs) == 0 {
			b.mu.Unlock()
			return
		}
		name := b.dropDBs[0]
		b.mu.Unlock()
		if err := dropPostgres(b.postgres, name); err != nil {
			b.logf("drop database %s: %v", name, err)
		}
		b.mu.Lock()
		b.dropDBs = slices.DeleteFunc(b.dropDBs, func(n string) bool { return n == name })
		b.mu.Unlock()
	}
}

// settle keeps the scenarios (and the phases a scenario compares) apart
// on PostgreSQL: it drops the databases made so far, whose runs are over,
// and runs CHECKPOINT, so that the next run does not start while the
// server still writes out what the last one left (a run that writes much
// leaves the checkpointer pages to write after it ends). SQLite's files
// need nothing: each run has its own, and its commits are on disk.
func (b *bench) settle() {
	if b.postgres == "" {
		return
	}
	start := time.Now()
	b.dropDatabases()
	if err := checkpoint(b.postgres); err != nil {
		b.logf("checkpoint: %v (the next run may share the disk with this one's writes)", err)
		return
	}
	b.logf("disk settled (databases dropped, CHECKPOINT) in %v", time.Since(start).Round(time.Millisecond))
}

// machine describes this computer: "linux/amd64, 2 cores, 24 GiB, <cpu>".
func machine() string {
	s := fmt.Sprintf("%s/%s, %d cores", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if kb := procField("/proc/meminfo", "MemTotal"); kb > 0 {
		s += fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				s += ", " + strings.TrimSpace(v)
				break
			}
		}
	}
	return s
}

// loadAverage is the first three fields of /proc/loadavg: other work on
// the machine skews every figure.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// round rounds x to the given number of decimals.
func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}

// perSec is n events over d, rounded to one decimal.
func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round(float64(n)/d.Seconds(), 1)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round(a/b, 3)
}

func printTable(r *results) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "machine\t%s\n", r.Machine)
	fmt.Fprintf(w, "database\t%s\n", r.Database)
	if r.Filters {
		fmt.Fprintf(w, "filters\thalf the webhooks filter (ignore_actors, only_groups)\n")
	}
	row := func(scenario, name string, v any, unit string) {
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", scenario, name, v, unit)
	}
	fmt.Fprintln(w, "\t\t\t")
	fmt.Fprintln(w, "scenario\tmeasure\tvalue\tunit")
	if t := r.Throughput; t != nil {
		row("throughput", fmt.Sprintf("deliveries (%d webhooks, %d delivering)", t.Webhooks, t.Delivering), t.Deliveries, "")
		row("", "Herald deliveries", t.DeliveriesPerSec, "/s")
		row("", "plain Go client, same requests", t.BaselineRequestsPerSec, "/s")
		row("", "ratio Herald/plain", t.Ratio, "")
	}
	if l := r.Latency; l != nil {
		row("latency", fmt.Sprintf("p50 (%d users/s, %d webhooks)", l.EventsPerSec, l.Webhooks), l.P50MS, "ms")
		row("", "p99", l.P99MS, "ms")
		row("", "max", l.MaxMS, "ms")
		row("", "p50 from the request", l.P50FromRequestMS, "ms")
		row("", "p99 from the request", l.P99FromRequestMS, "ms")
		row("", "max from the request", l.MaxFromRequestMS, "ms")
	}
	if i := r.Isolation; i != nil {
		row("isolation", "healthy webhook alone", i.HealthyAlonePerSec, "deliveries/s")
		row("", "healthy beside a blackhole", i.HealthyWithBlackholePerSec, "deliveries/s")
		row("", "ratio with/alone", i.Ratio, "")
	}
	if bl := r.Backlog; bl != nil {
		row("backlog", "pending deliveries", bl.Pending, "")
		row("", "peak RSS of herald", bl.PeakRSSMiB, "MiB")
		row("", "drain", bl.DrainPerSec, "deliveries/s")
		row("", "restart to first delivery", bl.RestartFirstDeliveryMS, "ms")
	}
	if a := r.API; a != nil {
		row("api", fmt.Sprintf("user creates (%d webhooks, %d clients)", a.Webhooks, a.Concurrency), a.UserCreatesPerSec, "/s")
		cpuRows(row, "", a.CPU)
	}
	if c := r.Cluster; c != nil {
		row("cluster", "one instance", c.OnePerSec, "deliveries/s")
		row("", fmt.Sprintf("%d instances, one database", c.Instances), c.ClusterPerSec, "deliveries/s")
		row("", "ratio cluster/one", c.Ratio, "")
		row("", "p99 from the request (cluster)", c.P99FromRequestMS, "ms")
		row("", "duplicates", c.Duplicates, "")
		row("", "most in flight at one webhook", c.MaxInFlight, "")
		cpuRows(row, "one instance: ", c.OneCPU)
		cpuRows(row, "cluster: ", c.ClusterCPU)
	}
	if sc := r.SCIM; sc != nil {
		row("scim", fmt.Sprintf("user creations provisioned (%d, one target)", sc.Changes), sc.ChangesPerSec, "/s")
		row("", "p99 from the request", sc.P99FromRequestMS, "ms")
		row("", "same users, one webhook", sc.WebhookDeliveriesPerSec, "deliveries/s")
		row("", "ratio SCIM/webhook", sc.RatioToWebhook, "")
	}
	if s := r.Statements; s != nil {
		row("statements", fmt.Sprintf("directory's per user created (%d users)", s.Users), s.PerUser, "")
		row("", fmt.Sprintf("queue's per delivery (%d deliveries)", s.Deliveries), s.PerDelivery, "")
		row("", "BEGIN and COMMIT", s.TransactionControl, "")
		row("", "commits", s.Commits, "")
		for _, t := range s.Top {
			row("", fmt.Sprintf("%.70s", t.Query), t.Calls, fmt.Sprintf("calls, %d rows, %.3f ms mean", t.Rows, t.MeanMS))
		}
	}
	w.Flush()
}

// waitFor polls cond every 20 ms until it is true, ctx ends, or check
// returns an error.
func waitFor(ctx context.Context, cond func() bool, check func() error) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		if check != nil {
			if err := check(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
