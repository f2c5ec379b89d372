package main

import (
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
		{"all fields", "cpu  100 5 40 800 10 3 2 7 0 0\ncpu0 50 2 20 400 5 1 1 3 0 0\n", 150 * clockTick, 967 * clockTick, true},
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

// TestCPUUse: the differences of two marks, per user; nothing without
// both marks.
func TestCPUUse(t *testing.T) {
	b := &bench{}
	from := cpuMark{herald: time.Second, postgres: 2 * time.Second, self: 0, busy: 10 * time.Second, total: 20 * time.Second, ok: true}
	to := cpuMark{herald: 3 * time.Second, postgres: 4 * time.Second, self: time.Second, busy: 28 * time.Second, total: 40 * time.Second, ok: true}
	got := b.cpuUse(from, to, 1000)
	want := cpuUse{HeraldMS: 2, PostgresMS: 2, BenchMS: 1, MachineBusy: 0.9}
	if got == nil || *got != want {
		t.Fatalf("cpuUse = %+v, want %+v", got, want)
	}
	if b.cpuUse(cpuMark{}, to, 1000) != nil || b.cpuUse(from, to, 0) != nil {
		t.Error("cpuUse without a mark or users: want nil")
	}
}
