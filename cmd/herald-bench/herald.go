package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
)

const adminPassword = "herald-bench-admin"

func randomText() string { return strings.ToLower(rand.Text()[:12]) }

// newDatabase returns the HERALD_DATABASE for a fresh, empty database: a
// SQLite file in the temporary folder, or a new database on the PostgreSQL
// server (dropped by settle once its run is over, or at the end).
func (b *bench) newDatabase(scenario string) (string, error) {
	if b.postgres == "" {
		dir := filepath.Join(b.tmp, scenario)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		return filepath.Join(dir, "herald.db"), nil
	}
	name := "herald_bench_" + strings.ReplaceAll(scenario, "-", "_") + "_" + randomText()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.postgres)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redact(b.postgres), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	b.mu.Lock()
	b.dropDBs = append(b.dropDBs, name)
	b.mu.Unlock()
	u, err := url.Parse(b.postgres)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func dropPostgres(server, name string) error {
	return serverExec(server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)", time.Minute)
}

// checkpoint asks the PostgreSQL server to write out every dirty page
// now, and waits until it has (it needs a superuser or pg_checkpoint).
func checkpoint(server string) error {
	return serverExec(server, "CHECKPOINT", 5*time.Minute)
}

// serverExec runs one statement on its own connection to server.
func serverExec(server, statement string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, statement)
	return err
}

func redact(dsn string) string { return store.Redact(dsn) }

// freePort returns a loopback address nobody listens on right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// heraldProc is one "herald serve" child process.
type heraldProc struct {
	cmd      *exec.Cmd
	url      string
	database string    // its HERALD_DATABASE
	started  time.Time // just before the process was started
	done     chan struct{}
	logFile  *os.File
	logPath  string

	mu      sync.Mutex
	peakKiB int64 // highest VmHWM seen
}

// startHerald runs "herald serve" on database and a free port, logging to
// <tmp>/<scenario>/herald-N.log, and waits until it answers
// /api/v1/health.
func (b *bench) startHerald(scenario, database string) (*heraldProc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.tmp, scenario)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var logPath string
	for n := 1; ; n++ {
		logPath = filepath.Join(dir, fmt.Sprintf("herald-%d.log", n))
		if _, err := os.Stat(logPath); os.IsNotExist(err) {
			break
		}
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(b.bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HERALD_ADDR="+addr,
		"HERALD_DATABASE="+database,
		"HERALD_ADMIN_PASSWORD="+adminPassword,
	)
	if b.secretKey != "" {
		cmd.Env = append(cmd.Env, "HERALD_SECRET_KEY="+b.secretKey)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	p := &heraldProc{cmd: cmd, url: "http://" + addr, database: database, done: make(chan struct{}), logFile: logFile, logPath: logPath}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", b.bin, err)
	}
	b.mu.Lock()
	b.procs[p] = true
	b.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	go p.sampleMemory()

	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("herald exited at start (%v); see %s", cmd.ProcessState, logPath)
		default:
		}
		resp, err := hc.Get(p.url + "/api/v1/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("herald did not answer /api/v1/health in 60 s (%v); see %s", err, logPath)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exited reports an error once the process is gone.
func (p *heraldProc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("herald exited unexpectedly (%v); see %s", p.cmd.ProcessState, p.logPath)
	default:
		return nil
	}
}

// stopHerald stops p gracefully and logs how long that took.
func (b *bench) stopHerald(p *heraldProc) error {
	start := time.Now()
	err := p.stop()
	b.logf("herald stopped (SIGTERM) in %v; it used %v of CPU", time.Since(start).Round(time.Millisecond), p.cpu().Round(10*time.Millisecond))
	return err
}

// stop ends herald gracefully (SIGTERM: in-flight deliveries finish and
// are recorded), and kills it if it takes more than a minute.
func (p *heraldProc) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(time.Minute):
		p.kill()
		return fmt.Errorf("herald did not stop within a minute of SIGTERM; killed; see %s", p.logPath)
	}
}

// cpu is the CPU time (user and system) the process used, once it has
// exited (0 before): what a run cost Herald, to compare two builds by
// besides the rates.
func (p *heraldProc) cpu() time.Duration {
	select {
	case <-p.done:
		return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
	default:
		return 0
	}
}

// kill ends herald at once.
func (p *heraldProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// sampleMemory polls /proc/<pid>/status for VmHWM (the peak resident set)
// until the process exits.
func (p *heraldProc) sampleMemory() {
	path := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if kb := max(procField(path, "VmHWM"), procField(path, "VmRSS")); kb > 0 {
			p.mu.Lock()
			p.peakKiB = max(p.peakKiB, kb)
			p.mu.Unlock()
		}
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

// peakRSSMiB is the highest resident set seen so far, in MiB.
func (p *heraldProc) peakRSSMiB() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return float64(p.peakKiB) / 1024
}

// procField reads a "Name:  123 kB" line of a /proc file, in kB.
func procField(path, name string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		return n
	}
	return 0
}

// heraldWithWebhooks starts a fresh Herald for scenario (a database of its
// own) and subscribes hooks webhooks to the receiver's URLs; it returns
// the process and an admin client.
func (b *bench) heraldWithWebhooks(scenario string, rcv *receiver, hooks int) (*heraldProc, *client, error) {
	db, err := b.newDatabase(scenario)
	if err != nil {
		return nil, nil, err
	}
	h, err := b.startHerald(scenario, db)
	if err != nil {
		return nil, nil, err
	}
	c, err := newClient(h.url)
	if err != nil {
		return nil, nil, err
	}
	if b.filters {
		if err := c.call("POST", "/api/v1/group", map[string]any{"name": filterGroup, "members": []string{}}, http.StatusCreated, nil); err != nil {
			return nil, nil, err
		}
	}
	for i := range hooks {
		var extra map[string]any
		if b.filters && filtered(i) {
			extra = filterFields
		}
		if err := c.createWebhookWith(rcv.url(i), fmt.Sprintf("bench receiver %d", i), extra); err != nil {
			return nil, nil, err
		}
	}
	return h, c, nil
}
