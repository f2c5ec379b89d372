package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CPU accounting (Linux only: read from /proc). On a machine of few cores
// the api and cluster scenarios keep every core busy or nearly, and then a
// rate is set by the CPU that one user created costs in all: Herald's,
// PostgreSQL's (with its ten deliveries' outcomes) and the bench's own
// clients and receiver. These figures split that cost, and say how busy
// the machine was: near 100 %, a rate can only grow by costing less; well
// under it, something else (a lock, a round trip) sets it.

// cpuUse is the CPU spent over a scenario's measured window, per user
// created, by whom. The window holds the work of the deliveries that
// arrived in it (the scenarios log how many).
type cpuUse struct {
	HeraldMS float64 `json:"herald_ms_per_user"`
	// PostgresMS: every process named postgres on this machine (one
	// server, doing nothing else, is assumed), counted only when the
	// database URL is a loopback address, localhost or a Unix socket and
	// such processes were found; nil otherwise.
	PostgresMS *float64 `json:"postgres_ms_per_user,omitempty"`
	// BenchMS: the bench process itself, its API clients and receiver.
	BenchMS float64 `json:"bench_ms_per_user"`
	// MachineBusy: the share of all cores' time that was not idle (time
	// the hypervisor gave to others while this machine wanted it, steal,
	// counts as busy).
	MachineBusy float64 `json:"machine_busy"`
}

// cpuMark is how much CPU time each party had used at one moment.
type cpuMark struct {
	herald, postgres, self time.Duration
	busy, total            time.Duration
	// ok: /proc was read; postgresOK: PostgreSQL's processes too.
	ok, postgresOK bool
}

// clockTick is the unit of /proc's CPU times (USER_HZ): 100 on every
// architecture Go builds Linux for.
const clockTick = 10 * time.Millisecond

// markCPU reads the CPU time used so far by the Herald processes pids, the
// local PostgreSQL server, the bench and the whole machine; not ok where
// there is no /proc.
func (b *bench) markCPU(pids ...int) cpuMark {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuMark{}
	}
	var m cpuMark
	if m.busy, m.total, m.ok = machineCPU(string(stat)); !m.ok {
		return cpuMark{}
	}
	for _, pid := range pids {
		m.herald += processCPUFile(fmt.Sprintf("/proc/%d/stat", pid), false)
	}
	m.self = processCPUFile("/proc/self/stat", false)
	if b.postgres != "" && localDatabase(b.postgres) {
		m.postgres, m.postgresOK = postgresCPU()
	}
	return m
}

// cpuBetween is what was spent between from and to, per user of users;
// nil where the marks could not be read.
func cpuBetween(from, to cpuMark, users int) *cpuUse {
	if !from.ok || !to.ok || users <= 0 || to.total <= from.total {
		return nil
	}
	perUser := func(d time.Duration) float64 {
		return round(float64(d)/float64(time.Millisecond)/float64(users), 3)
	}
	u := &cpuUse{
		HeraldMS:    perUser(to.herald - from.herald),
		BenchMS:     perUser(to.self - from.self),
		MachineBusy: round(float64(to.busy-from.busy)/float64(to.total-from.total), 3),
	}
	if from.postgresOK && to.postgresOK {
		pg := perUser(to.postgres - from.postgres)
		u.PostgresMS = &pg
	}
	return u
}

// String is the log's form of u.
func (u *cpuUse) String() string {
	if u == nil {
		return "CPU not measured"
	}
	pg := ""
	if u.PostgresMS != nil {
		pg = fmt.Sprintf(", PostgreSQL %.3f ms", *u.PostgresMS)
	}
	return fmt.Sprintf("CPU per user created: Herald %.3f ms%s, the bench %.3f ms; machine %.0f%% busy",
		u.HeraldMS, pg, u.BenchMS, 100*u.MachineBusy)
}

// machineCPU reads the first line of /proc/stat (the sum of all cores):
// busy is user, nice, system, irq, softirq and steal time (guest time is
// inside user already); total adds idle and iowait.
func machineCPU(stat string) (busy, total time.Duration, ok bool) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return 0, 0, false
		}
		v[i] = n
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	b := user + nice + system + irq + softirq + steal
	return time.Duration(b) * clockTick, time.Duration(b+idle+iowait) * clockTick, true
}

// processCPU reads a process's user and system time from its
// /proc/<pid>/stat line, with its waited-for children's if children:
// PostgreSQL's postmaster holds there the time of the backends that ended.
// name is the command name (in parentheses: it may hold spaces).
func processCPU(stat string, children bool) (name string, cpu time.Duration, ok bool) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	// After the name: state, ppid, ... utime is the 12th, then stime,
	// cutime and cstime.
	f := strings.Fields(stat[end+1:])
	if len(f) < 15 {
		return "", 0, false
	}
	last := 12
	if children {
		last = 14
	}
	var ticks int64
	for _, s := range f[11 : last+1] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", 0, false
		}
		ticks += n
	}
	return stat[open+1 : end], time.Duration(ticks) * clockTick, true
}

// processCPUFile is processCPU of the file at path; 0 if it is gone.
func processCPUFile(path string, children bool) time.Duration {
	stat, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	_, cpu, _ := processCPU(string(stat), children)
	return cpu
}

// postgresCPU adds up the CPU time of every process named postgres, with
// that of the backends that have ended (their postmaster's children);
// found is false if there is none. A backend that ends while the
// processes are read may be counted twice or not at all: Herald's
// connections last, so this is rare and small.
func postgresCPU() (sum time.Duration, found bool) {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range paths {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // ended meanwhile
		}
		if name, cpu, ok := processCPU(string(stat), true); ok && name == "postgres" {
			sum, found = sum+cpu, true
		}
	}
	return sum, found
}

// localDatabase reports whether the PostgreSQL URL dsn names a server on
// this machine: a loopback address, localhost or a Unix socket.
func localDatabase(dsn string) bool {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return false
	}
	host := cfg.Host
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cpuRows adds u's figures to the table, each name after prefix.
func cpuRows(row func(scenario, name string, v any, unit string), prefix string, u *cpuUse) {
	if u == nil {
		return
	}
	row("", prefix+"Herald's CPU per user created", u.HeraldMS, "ms")
	if u.PostgresMS != nil {
		row("", prefix+"PostgreSQL's CPU per user created", *u.PostgresMS, "ms")
	}
	row("", prefix+"the bench's CPU per user created", u.BenchMS, "ms")
	row("", prefix+"machine busy", round(100*u.MachineBusy, 1), "%")
}
