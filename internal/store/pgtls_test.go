package store

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/testdb"
	"github.com/jackc/pgx/v5"
)

// TestPlainOnLoopback: a connection string that says nothing of TLS and
// names only loopback hosts is tried without TLS first, then with it;
// one that names an ssl setting or a service, or another host, or a
// socket, keeps the driver's order. Nothing else the driver read changes.
// Nothing is dialled.
func TestPlainOnLoopback(t *testing.T) {
	for _, env := range []string{"PGSSLMODE", "PGSSLNEGOTIATION", "PGSSLSNI", "PGSSLROOTCERT", "PGSERVICE"} {
		t.Setenv(env, "")
	}
	services := filepath.Join(t.TempDir(), "pg_service.conf")
	if err := os.WriteFile(services, []byte("[herald]\nhost=127.0.0.1\ndbname=herald\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGSERVICEFILE", services)
	for _, tc := range []struct {
		dsn        string
		plainFirst bool
	}{
		{"postgres://postgres@127.0.0.1:5432/test", true},
		{"postgresql://h:pw@localhost/herald?application_name=x", true},
		{"postgres://h@[::1]:5432/herald", true},
		{"postgres://h@127.0.0.1:5432,127.0.0.2:5433/herald", true},
		{"host=127.0.0.1 user=postgres dbname=test", true},
		{"postgres://u@127.0.0.1/db?", true},
		{"postgres://u@127.0.0.1/db?a=b&", true},
		// What the driver reads its own way stays as it was read.
		{"postgres://u@127.0.0.1/db?options=-c%20search_path%3Dx", true},
		{"postgres://u@127.0.0.1/db?password=p%20q+r", true},
		{"postgres://u@127.0.0.1/db#x", true},
		{"postgres://u@127.0.0.1/db?application_name=a;b", true},
		{"postgres://u@127.0.0.1/db?dbname=a&database=b", true},
		{`host=127.0.0.1 password=abc\`, true},
		// TLS named: the driver's order.
		{"postgres://postgres@127.0.0.1/test?sslmode=require", false},
		{"postgres://postgres@127.0.0.1/test?sslmode=prefer", false},
		{"postgres://postgres@127.0.0.1/test?ssl=true", false},
		{"postgres://postgres@127.0.0.1/test?sslsni=1", false},
		{"host=localhost sslmode = verify-full dbname=test", false},
		{"host=localhost sslnegotiation=direct dbname=test", false},
		// A service file may choose.
		{"postgres://u@127.0.0.1/db?service=herald", false},
		{"service=herald host=127.0.0.1", false},
		// Another host, or one of several: TLS first.
		{"postgres://h@192.0.2.10:5432/herald", false},
		{"postgres://h@127.0.0.1,192.0.2.10/herald", false},
		{"host=db.example.com dbname=herald", false},
		// A Unix socket carries no TLS anyway.
		{"host=/var/run/postgresql dbname=herald", false},
	} {
		before, err := pgx.ParseConfig(tc.dsn)
		if err != nil {
			t.Errorf("%q: %v", tc.dsn, err)
			continue
		}
		after := before.Copy()
		plainOnLoopback(tc.dsn, after)
		if got := after.TLSConfig == nil && len(after.Fallbacks) > 0 && after.Fallbacks[0].TLSConfig != nil; got != tc.plainFirst {
			t.Errorf("%q: tried without TLS first: %v, want %v", tc.dsn, got, tc.plainFirst)
		}
		if !tc.plainFirst && !slices.Equal(withTLS(after), withTLS(before)) {
			t.Errorf("%q: the driver's tries were changed: TLS %v, was %v", tc.dsn, withTLS(after), withTLS(before))
		}
		if after.User != before.User || after.Password != before.Password || after.Database != before.Database ||
			!maps.Equal(after.RuntimeParams, before.RuntimeParams) || !slices.Equal(hostsOf(after), hostsOf(before)) {
			t.Errorf("%q: more than TLS changed: %+v, was %+v", tc.dsn, after.Config, before.Config)
		}
	}
	for env, value := range map[string]string{"PGSSLMODE": "prefer", "PGSSLSNI": "1", "PGSERVICE": "herald"} {
		t.Setenv(env, value)
		cfg, err := pgx.ParseConfig("postgres://postgres@127.0.0.1/test")
		if err != nil {
			t.Fatalf("%s=%s: %v", env, value, err)
		}
		tries := withTLS(cfg)
		plainOnLoopback("postgres://postgres@127.0.0.1/test", cfg)
		if !slices.Equal(withTLS(cfg), tries) {
			t.Errorf("%s set: the driver's tries were changed", env)
		}
		t.Setenv(env, "")
	}
}

// withTLS lists, for each try of a config in order, whether it uses TLS.
func withTLS(cfg *pgx.ConnConfig) []bool {
	tries := []bool{cfg.TLSConfig != nil}
	for _, f := range cfg.Fallbacks {
		tries = append(tries, f.TLSConfig != nil)
	}
	return tries
}

// hostsOf lists the hosts a config tries, in order, once each.
func hostsOf(cfg *pgx.ConnConfig) []string {
	hosts := []string{fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)}
	for _, f := range cfg.Fallbacks {
		if h := fmt.Sprintf("%s:%d", f.Host, f.Port); h != hosts[len(hosts)-1] {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// TestPostgresPlainOnLoopback: on the test server (loopback), Herald's
// connections go without TLS when the URL chooses no sslmode, and with it
// when the URL asks for it.
func TestPostgresPlainOnLoopback(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	if !strings.Contains(dsn, "127.0.0.1") && !strings.Contains(dsn, "localhost") {
		t.Skipf("the test server is not on a loopback address (%s)", Redact(dsn))
	}
	t.Setenv("PGSSLMODE", "")
	ssl := func(dsn string) bool {
		t.Helper()
		db, err := Open(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var on bool
		if err := db.reader.QueryRowContext(ctx, `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&on); err != nil {
			t.Fatal(err)
		}
		return on
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	withSSLMode := func(mode string) string { // the test server's URL says disable
		q := u.Query()
		q.Del("sslmode")
		if mode != "" {
			q.Set("sslmode", mode)
		}
		v := *u
		v.RawQuery = q.Encode()
		return v.String()
	}
	if ssl(withSSLMode("")) {
		t.Error("a connection to a loopback address with no sslmode chosen uses TLS")
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var serverSSL string
	err = admin.QueryRow(ctx, "SHOW ssl").Scan(&serverSSL)
	admin.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if serverSSL != "on" {
		t.Skipf("the test server has ssl = %s: the half that asks for TLS cannot run", serverSSL)
	}
	if !ssl(withSSLMode("require")) {
		t.Error("sslmode=require in the URL: the connection does not use TLS")
	}
}
