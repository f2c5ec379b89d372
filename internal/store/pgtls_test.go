package store

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/testdb"
	"github.com/jackc/pgx/v5"
)

// TestPlainOnLoopback: a connection string that chooses no sslmode and
// names only loopback hosts gets sslmode=allow; one that chooses, or names
// another host, or a socket, is left as it is. Nothing is dialled.
func TestPlainOnLoopback(t *testing.T) {
	t.Setenv("PGSSLMODE", "")
	t.Setenv("PGSERVICE", "")
	for _, tc := range []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1:5432/test?sslmode=allow"},
		{"postgresql://h:pw@localhost/herald?application_name=x", "postgresql://h:pw@localhost/herald?application_name=x&sslmode=allow"},
		{"postgres://h@[::1]:5432/herald", "postgres://h@[::1]:5432/herald?sslmode=allow"},
		{"postgres://h@127.0.0.1,127.0.0.2/herald", "postgres://h@127.0.0.1,127.0.0.2/herald?sslmode=allow"},
		{"host=127.0.0.1 user=postgres dbname=test", "host=127.0.0.1 user=postgres dbname=test sslmode=allow"},
		{"postgres://u@127.0.0.1/db?", "postgres://u@127.0.0.1/db?sslmode=allow"},
		{"postgres://u@127.0.0.1/db?a=b&", "postgres://u@127.0.0.1/db?a=b&sslmode=allow"},
		{"postgres://u@127.0.0.1/db#x", "postgres://u@127.0.0.1/db?sslmode=allow#x"},
		{"postgres://u:p%40ss@127.0.0.1/db", "postgres://u:p%40ss@127.0.0.1/db?sslmode=allow"},
		// A service file may choose: left to it.
		{"postgres://u@127.0.0.1/db?service=herald", "postgres://u@127.0.0.1/db?service=herald"},
		{"service=herald host=127.0.0.1", "service=herald host=127.0.0.1"},
		// A trailing backslash would escape what is added.
		{`host=127.0.0.1 password=abc\`, `host=127.0.0.1 password=abc\`},
		// Chosen: kept, whatever it is.
		{"postgres://postgres@127.0.0.1/test?sslmode=require", "postgres://postgres@127.0.0.1/test?sslmode=require"},
		{"postgres://postgres@127.0.0.1/test?sslmode=prefer", "postgres://postgres@127.0.0.1/test?sslmode=prefer"},
		{"host=localhost sslmode = verify-full dbname=test", "host=localhost sslmode = verify-full dbname=test"},
		// Another host, or one of several: TLS first, as the driver does.
		{"postgres://h@192.0.2.10:5432/herald", "postgres://h@192.0.2.10:5432/herald"},
		{"postgres://h@127.0.0.1,192.0.2.10/herald", "postgres://h@127.0.0.1,192.0.2.10/herald"},
		{"host=db.example.com dbname=herald", "host=db.example.com dbname=herald"},
		// A Unix socket carries no TLS anyway.
		{"host=/var/run/postgresql dbname=herald", "host=/var/run/postgresql dbname=herald"},
	} {
		if got := plainOnLoopback(tc.in); got != tc.want {
			t.Errorf("plainOnLoopback(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, env := range []string{"PGSSLMODE", "PGSERVICE"} {
		t.Setenv(env, "x")
		if in := "postgres://postgres@127.0.0.1/test"; plainOnLoopback(in) != in {
			t.Errorf("%s set: the connection string was changed to %q", env, plainOnLoopback(in))
		}
		t.Setenv(env, "")
	}
	// Every string changed is one the driver reads, with allow.
	for _, in := range []string{"postgres://u@127.0.0.1/db?", "postgres://u@127.0.0.1/db?a=b&", "host=127.0.0.1 dbname=x"} {
		if _, err := pgx.ParseConfig(plainOnLoopback(in)); err != nil {
			t.Errorf("plainOnLoopback(%q) = %q, which the driver refuses: %v", in, plainOnLoopback(in), err)
		}
	}
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
