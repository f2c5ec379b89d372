// Package app wires Herald together: it opens the database, migrates it,
// creates the first admin, and serves HTTP. cmd/herald and the end-to-end
// tests both start Herald through it, so tests run the real server.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/queue"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/server"
	"github.com/heraldhq/herald/internal/stationrpc"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/web"
)

// Config is every setting (docs/configuration.md).
type Config struct {
	Addr               string
	Database           string
	AdminPassword      string
	SecretKey          string
	RetrySchedule      []time.Duration
	RequestTimeout     time.Duration
	WebhookDenyPrivate bool
	// LogFormat is "text", "json", or empty: cmd/herald then picks text
	// when standard error is a terminal, else json.
	LogFormat string
	// LogLevel is the least severe level logged (the zero value is info).
	LogLevel slog.Level
	// DeliveryRetention is how long attempts and finished deliveries are
	// kept in the delivery log.
	DeliveryRetention time.Duration
	// GRPCAddr is where the provisioning service for Defguard's YubiKey
	// provisioner listens; empty: not served. GRPCTLSCert and GRPCTLSKey
	// (PEM files, both or neither) make it speak TLS.
	GRPCAddr    string
	GRPCTLSCert string
	GRPCTLSKey  string
	// MetricsAddr is where /metrics is served alone, for Prometheus;
	// empty: on Addr with the rest.
	MetricsAddr string
	// SendsNothing is set by the admin commands that queue events but
	// never send a request themselves: the proxy variables are not read,
	// so one that only a sender could use does not stop `herald user add`.
	// (`herald webhook test` and `herald scim resync` send, and read them.)
	SendsNothing bool
	// Command is set by every admin command: it opens the database's
	// connections as it needs them, one or two, not all ahead.
	Command bool
	// Engine overrides the delivery engine's tuning (tests and benchmarks);
	// the settings above take precedence over its matching fields.
	Engine delivery.Config

	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (none by default).
	TrustedProxies []netip.Prefix
	// PublicURL is where users reach Herald, e.g. https://herald.example.com
	// ("": not set). An https URL makes cookies Secure and sends HSTS.
	PublicURL string
	// The HTTP server's timeouts: for a request's headers, for a whole
	// request (a client trickling its body is cut off), and for an idle
	// kept-alive connection.
	HeaderTimeout, WholeRequestTimeout, IdleTimeout time.Duration
	// Limits guard logins: throttling and concurrent password checks
	// (zero fields: directory.DefaultLimits).
	Limits directory.Limits
}

// DefaultRetrySchedule is the one docs/receivers.md promises: immediately,
// then 5 s ... 24 h.
var DefaultRetrySchedule = []time.Duration{0, 5 * time.Second, 30 * time.Second, 2 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// DefaultConfig returns the settings Herald runs with when given none.
func DefaultConfig() Config {
	return Config{
		Addr:              "127.0.0.1:8080",
		Database:          "herald.db",
		RetrySchedule:     DefaultRetrySchedule,
		RequestTimeout:    15 * time.Second,
		DeliveryRetention: 30 * 24 * time.Hour,

		HeaderTimeout:       10 * time.Second,
		WholeRequestTimeout: 60 * time.Second,
		IdleTimeout:         120 * time.Second,
	}
}

// ParsePublicURL checks a public_url setting: empty, or an absolute http or
// https URL with a host. It returns the URL with its scheme and host in
// lower case.
func ParsePublicURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("public_url: %q is not an absolute http:// or https:// URL like https://herald.example.com", s)
	}
	// Neither is case-sensitive, and browsers send both in lower case
	// (Origin); url.Parse lowers the scheme only.
	u.Host = strings.ToLower(u.Host)
	return u.String(), nil
}

// publicHTTPS reports whether users reach Herald over https, by the
// public URL's scheme in any case.
func publicHTTPS(publicURL string) bool {
	u, err := url.Parse(publicURL)
	return err == nil && u.Scheme == "https"
}

// ParseRetrySchedule reads a comma-separated list of durations ("0,5s,30s").
func ParseRetrySchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "0" {
			out = append(out, 0)
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("retry_schedule: %q is not a duration like 30s or 2m", part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errors.New("retry_schedule: needs at least one duration")
	}
	return out, nil
}

// App is a running Herald.
type App struct {
	Config  Config
	DB      *store.DB
	Queue   *queue.Queue
	Dir     *directory.Service
	Engine  *delivery.Engine
	Handler http.Handler
	log     *slog.Logger
	grpcLn  net.Listener
	// registry holds every metric; metricsLn serves it on metrics_addr.
	registry  *prometheus.Registry
	metricsLn net.Listener
}

// Open opens and migrates the database, checks the secret key against it
// (secretkey.go: a key that cannot open the stored secrets is refused with
// the fix in the error) and creates the first admin if the database is
// empty.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := requireSecretKey(cfg); err != nil {
		return nil, err
	}
	// HTTPS_PROXY, HTTP_PROXY and NO_PROXY, read once (tests may set
	// Engine.Proxy instead).
	var proxy *delivery.Proxy
	if !cfg.SendsNothing {
		p, err := delivery.ProxyFromEnvironment()
		if err != nil {
			return nil, err
		}
		proxy = p
	}
	db, err := store.Open(ctx, cfg.Database, log)
	if err != nil {
		return nil, fmt.Errorf("open the database: %w", err)
	}
	// Opened before any write: on SQLite it follows every commit.
	q := queue.Open(db, log)
	// Of several instances starting at once, one migrates, records the
	// secret key's check value and creates the admin; the others wait,
	// then find all done (and a key that differs refused).
	var box *secretbox.Box
	err = db.StartupLock(ctx, func() error {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if len(applied) > 0 {
			log.Info("database migrated", "applied", applied)
		}
		box, err = useSecretKey(ctx, db, cfg, log)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	// Every connection open and ready before the first request, rather
	// than opened by it (on SQLite: the read pool's, on the file as
	// opened). Only a head start: a server that cannot open them all now
	// (PostgreSQL's max_connections nearly reached) opens them when it
	// needs them, as it would without it; an admin command needs one or
	// two.
	if !cfg.Command {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := db.Warm(wctx)
		cancel()
		if err != nil {
			log.Warn("could not open every database connection at start; requests open them as they need them", "err", err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "herald_build_info",
			Help:        "Always 1; its labels are Herald's version and the Go release it was built with.",
			ConstLabels: prometheus.Labels{"version": herald.Version, "goversion": runtime.Version()},
		}, func() float64 { return 1 }))
	ecfg := cfg.Engine
	ecfg.RetrySchedule = cfg.RetrySchedule
	ecfg.RequestTimeout = cfg.RequestTimeout
	ecfg.DenyPrivate = cfg.WebhookDenyPrivate
	ecfg.Retention = cfg.DeliveryRetention
	ecfg.Registerer = reg
	ecfg.SCIM = db // the ids SCIM targets gave users and groups
	if ecfg.Proxy == nil && proxy != nil {
		ecfg.Proxy = proxy.Choose
		log.Info("webhook requests go through a proxy", "https_proxy", proxy.HTTPS, "http_proxy", proxy.HTTP, "no_proxy", proxy.NoProxy)
	}
	engine := delivery.New(q, box, ecfg, log)
	limits := cfg.Limits
	if limits.AuditRetention == 0 {
		limits.AuditRetention = cfg.DeliveryRetention // the audit log is kept as long as the delivery log
	}
	dir := directory.New(db, box, testWithin(engine, cfg.WholeRequestTimeout), log, limits)
	// The engine compares SCIM targets with the directory (a resync),
	// through its client: the egress guard and proxy apply.
	dir.SetSCIMResyncer(engine)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "herald_password_checks_total",
		Help: "Passwords checked against their hash (logins and password changes).",
	}, func() float64 { return float64(dir.PasswordChecks()) }))
	// The first admin, under the startup lock too: one instance creates it.
	var created bool
	var pw string
	err = db.StartupLock(ctx, func() (err error) {
		if created, pw, err = dir.Bootstrap(ctx, cfg.AdminPassword); err != nil {
			return fmt.Errorf("create the first admin: %w", err)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	if created && cfg.AdminPassword == "" {
		// A generated password is printed once (docs/getting-started.md),
		// so the operator can log in. Set HERALD_ADMIN_PASSWORD to avoid
		// this.
		log.Warn("created user admin with a generated password; log in and change it", "username", "admin", "password", pw)
	} else if created {
		log.Info("created user admin with the password from admin_password")
	}
	for _, p := range cfg.TrustedProxies {
		if web.BroadProxyRange(p) {
			log.Warn("trusted_proxies holds a broad network: a client inside it can put any address in X-Forwarded-For and Herald believes it; list your proxies' own addresses (/32, /128)",
				"network", p.String())
		}
	}
	handler, err := server.New(dir, reg, log, box, server.Options{
		Edge:             web.Edge{TrustedProxies: cfg.TrustedProxies, PublicHTTPS: publicHTTPS(cfg.PublicURL)},
		PublicURL:        cfg.PublicURL,
		MetricsElsewhere: cfg.MetricsAddr != "",
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &App{Config: cfg, DB: db, Queue: q, Dir: dir, Engine: engine, Handler: handler, log: log, registry: reg}, nil
}

// boundedTester sends webhook tests (POST /api/v1/webhook/{id}/test, the
// web UI's button) so that the answer fits in the request that asked:
// within limit, however long request_timeout lets a delivery take.
type boundedTester struct {
	engine *delivery.Engine
	limit  time.Duration
}

func (b boundedTester) SendTest(ctx context.Context, hook herald.Webhook, ev herald.Event) herald.Attempt {
	ctx, cancel := context.WithTimeout(ctx, b.limit)
	defer cancel()
	return b.engine.SendTest(ctx, hook, ev)
}

// testWithin returns the engine as the directory's webhook tester, its test
// sends bounded by three quarters of the whole-request timeout (the rest
// is for reading the request and writing the answer); unbounded when
// there is no such timeout.
func testWithin(engine *delivery.Engine, wholeRequest time.Duration) directory.WebhookTester {
	if wholeRequest <= 0 {
		return engine
	}
	return boundedTester{engine: engine, limit: wholeRequest * 3 / 4}
}

// ListenGRPC opens the provisioning service's listener on grpc_addr, so
// the caller learns its address (a port of 0 picks a free one) and a taken
// address fails before anything starts. It returns nil when grpc_addr is
// empty. Serve calls it if the caller has not.
func (a *App) ListenGRPC() (net.Listener, error) {
	if a.Config.GRPCAddr == "" || a.grpcLn != nil {
		return a.grpcLn, nil
	}
	ln, err := net.Listen("tcp", a.Config.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (set --grpc-addr or HERALD_GRPC_ADDR to use another address)", a.Config.GRPCAddr, err)
	}
	a.grpcLn = ln
	return ln, nil
}

// ListenMetrics opens the listener of metrics_addr, so the caller learns
// its address (a port of 0 picks a free one) and a taken address fails
// before anything starts. It returns nil when metrics_addr is empty.
// Serve calls it if the caller has not.
func (a *App) ListenMetrics() (net.Listener, error) {
	if a.Config.MetricsAddr == "" || a.metricsLn != nil {
		return a.metricsLn, nil
	}
	ln, err := net.Listen("tcp", a.Config.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (set --metrics-addr or HERALD_METRICS_ADDR to use another address)", a.Config.MetricsAddr, err)
	}
	a.metricsLn = ln
	return ln, nil
}

// Serve answers HTTP on ln (and the provisioning service on grpc_addr, if
// set) and delivers webhooks until ctx is done, then shuts down gracefully:
// no new requests, calls and in-flight deliveries finish and are recorded.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if a.Config.GRPCAddr == "" && (a.Config.GRPCTLSCert != "" || a.Config.GRPCTLSKey != "") {
		return errors.New("grpc_tls_cert and grpc_tls_key are for the provisioning service: set --grpc-addr or HERALD_GRPC_ADDR too")
	}
	grpcLn, err := a.ListenGRPC()
	if err != nil {
		return err
	}
	if grpcLn != nil {
		defer grpcLn.Close()
	}
	metricsLn, err := a.ListenMetrics()
	if err != nil {
		return err
	}
	if metricsLn != nil {
		defer metricsLn.Close()
	}
	// SQLite: one process serves (and delivers from) a database; a second
	// one stops here. The admin commands open the database without
	// serving.
	if err := a.Queue.Lock(); err != nil {
		return err
	}
	if grpcLn != nil {
		stop, err := stationrpc.Serve(ctx, grpcLn, a.Dir, a.log, stationrpc.Options{TLSCert: a.Config.GRPCTLSCert, TLSKey: a.Config.GRPCTLSKey})
		if err != nil {
			return err
		}
		defer stop()
	}
	engineDone := make(chan struct{})
	go func() {
		a.Engine.Run(ctx)
		close(engineDone)
	}()
	defer func() { <-engineDone }()
	pruneDone := make(chan struct{})
	go func() {
		a.Dir.KeepLoginsPruned(ctx, directory.PruneLoginsEvery)
		close(pruneDone)
	}()
	defer func() { <-pruneDone }()
	var fresh freshConns
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: a.Config.HeaderTimeout,
		ReadTimeout:       a.Config.WholeRequestTimeout,
		WriteTimeout:      a.Config.WholeRequestTimeout,
		IdleTimeout:       a.Config.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		ConnState:         fresh.track,
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if metricsLn != nil {
		// Scrapes are small and quick; the same timeouts hold.
		metricsSrv := &http.Server{
			Handler:           server.MetricsHandler(a.registry),
			ReadHeaderTimeout: a.Config.HeaderTimeout,
			ReadTimeout:       a.Config.WholeRequestTimeout,
			WriteTimeout:      a.Config.WholeRequestTimeout,
			IdleTimeout:       a.Config.IdleTimeout,
			ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		}
		go func() { errc <- fmt.Errorf("metrics_addr: %w", metricsSrv.Serve(metricsLn)) }()
		defer metricsSrv.Close()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(shutCtx) }()
	// Shutdown lets requests in flight finish, but it also waits 5 s for
	// a connection that has not sent a request yet (a client's spare
	// keep-alive connection): there is nothing to finish on those.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		fresh.closeAll()
		select {
		case err := <-done:
			return err
		case <-tick.C:
		}
	}
}

// freshConns tracks connections that have not started a request yet.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (f *freshConns) track(c net.Conn, state http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state == http.StateNew {
		if f.conns == nil {
			f.conns = map[net.Conn]bool{}
		}
		f.conns[c] = true
		return
	}
	delete(f.conns, c)
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
		delete(f.conns, c)
	}
}

// Close releases the queue's lock and the database.
func (a *App) Close() error { return errors.Join(a.Queue.Close(), a.DB.Close()) }
