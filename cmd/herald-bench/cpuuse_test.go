package main

import (
	"os"
	"testing"
	"time"
)

func TestMachineCPU(t *testing.T) {
	for _, tc := range []struct {
		name        string
		stat        string
		busy, total time.Duration
		ok          bool
	}{
		{"all fields", "cpu  100 5 40 800 10 3 2 7 0 0\ncpu0 50 2 20 400 5 1 1 3 0 0\n", 157 * clockTick, 967 * clockTick, true},
		{"no guest fields (old kernels)", "cpu 1 0 1 8 0 0 0 0\n", 2 * clockTick, 10 * clockTick, true},
		{"a core's line first", "cpu0 1 0 1 8 0 0 0 0\n", 0, 0, false},
		{"too few fields", "cpu 1 2 3\n", 0, 0, false},
		{"not a number", "cpu 1 x 1 8 0 0 0 0\n", 0, 0, false},
		{"empty", "", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			busy, total, ok := machineCPU(tc.stat)
			if busy != tc.busy || total != tc.total || ok != tc.ok {
				t.Errorf("machineCPU = %v, %v, %v; want %v, %v, %v", busy, total, ok, tc.busy, tc.total, tc.ok)
			}
		})
	}
}

func TestProcessCPU(t *testing.T) {
	// A postmaster's line: utime 120, stime 30, cutime 4000, cstime 900.
	const postmaster = "812 (postgres) S 1 812 812 0 -1 4194560 2190 3460 0 0 120 30 4000 900 20 0 1 0 1862 227373056 7213 18446744073709551615 1 1 0 0 0 0 4194304 19935232 84487 0 0 0 17 1 0 0 0 0 0"
	for _, tc := range []struct {
		name     string
		stat     string
		children bool
		want     string
		cpu      time.Duration
		ok       bool
	}{
		{"own time", postmaster, false, "postgres", 150 * clockTick, true},
		{"with ended children", postmaster, true, "postgres", 5050 * clockTick, true},
		{"a name with spaces and parentheses", "9 (a (b) c) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", false, "a (b) c", 10 * clockTick, true},
		{"a name that looks like fields", "9 (x) 1 2) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", false, "x) 1 2", 10 * clockTick, true},
		{"cut short", "9 (x) R 1 1 1 0 -1 0 0 0 0 0 7", false, "", 0, false},
		{"no name", "9 x R 1", false, "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, cpu, ok := processCPU(tc.stat, tc.children)
			if name != tc.want || cpu != tc.cpu || ok != tc.ok {
				t.Errorf("processCPU = %q, %v, %v; want %q, %v, %v", name, cpu, ok, tc.want, tc.cpu, tc.ok)
			}
		})
	}
}

func TestLocalDatabase(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://postgres@127.0.0.1:5432/test":  true,
		"postgres://postgres@[::1]:5432/test":      true,
		"postgres://postgres@localhost/test":       true,
		"host=/var/run/postgresql dbname=test":     true,
		"postgres://postgres@db.example:5432/test": false,
		"postgres://postgres@192.0.2.10/test":      false,
		"postgres://%zz":                           false,
	} {
		if got := localDatabase(dsn); got != want {
			t.Errorf("localDatabase(%q) = %v, want %v", dsn, got, want)
		}
	}
}

// TestCPUBetween: the differences of two marks, per user; PostgreSQL's
// only where both marks found it; nothing without both marks, users or
// time passed.
func TestCPUBetween(t *testing.T) {
	from := cpuMark{herald: time.Second, postgres: 2 * time.Second, self: 0, busy: 10 * time.Second, total: 20 * time.Second, ok: true, postgresOK: true}
	to := cpuMark{herald: 3 * time.Second, postgres: 4 * time.Second, self: time.Second, busy: 28 * time.Second, total: 40 * time.Second, ok: true, postgresOK: true}
	got := cpuBetween(from, to, 1000)
	if got == nil || got.HeraldMS != 2 || got.PostgresMS == nil || *got.PostgresMS != 2 || got.BenchMS != 1 || got.MachineBusy != 0.9 {
		t.Fatalf("cpuBetween = %+v, want Herald 2, PostgreSQL 2, bench 1 ms, busy 0.9", got)
	}
	if s := got.String(); s != "CPU per user created: Herald 2.000 ms, PostgreSQL 2.000 ms, the bench 1.000 ms; machine 90% busy" {
		t.Errorf("String = %q", s)
	}
	remote := to
	remote.postgresOK = false
	if got := cpuBetween(from, remote, 1000); got == nil || got.PostgresMS != nil {
		t.Errorf("PostgreSQL not found at one mark: got %+v, want no PostgreSQL figure", got)
	}
	stopped := to
	stopped.total = from.total
	for name, u := range map[string]*cpuUse{
		"no first mark":  cpuBetween(cpuMark{}, to, 1000),
		"no second mark": cpuBetween(from, cpuMark{}, 1000),
		"no users":       cpuBetween(from, to, 0),
		"no time passed": cpuBetween(from, stopped, 1000),
	} {
		if u != nil {
			t.Errorf("%s: got %+v, want nil", name, u)
		}
	}
	if s := (*cpuUse)(nil).String(); s != "CPU not measured" {
		t.Errorf("nil String = %q", s)
	}
}

// TestMarkCPUReadsThisMachine reads the real /proc: a wrong field index
// would show here as no time at all for a process that has run.
func TestMarkCPUReadsThisMachine(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here (not Linux): the CPU accounting reports nothing on such machines")
	}
	b := &bench{}
	from := b.markCPU(os.Getpid())
	// Spin until this process has used CPU by another reading (a busy
	// machine may give it little of the wall time).
	deadline := time.Now().Add(10 * time.Second)
	for processCPUFile("/proc/self/stat", false) < from.self+3*clockTick && time.Now().Before(deadline) {
	}
	to := b.markCPU(os.Getpid())
	if !from.ok || !to.ok {
		t.Fatal("markCPU could not read /proc/stat")
	}
	// Read by pid first, then as self: the same process, a moment later.
	if to.herald <= from.herald || to.self < to.herald {
		t.Errorf("this process's CPU: by pid %v then %v, as self %v; want it to grow, and self read later to be no less", from.herald, to.herald, to.self)
	}
	if to.total <= from.total || to.busy < from.busy {
		t.Errorf("machine: busy %v..%v, total %v..%v; want time to pass", from.busy, to.busy, from.total, to.total)
	}
}
