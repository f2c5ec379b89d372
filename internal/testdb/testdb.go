// Package testdb gives tests a fresh PostgreSQL database on the test
// server. It is imported by tests only.
package testdb

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultServer is the PostgreSQL that CI provides.
const DefaultServer = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerDSN is the test server's admin connection: HERALD_TEST_POSTGRES, or
// DefaultServer.
func ServerDSN() string {
	if dsn := os.Getenv("HERALD_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return DefaultServer
}

// Postgres creates an empty database for one test and returns its URL; the
// database is dropped when the test ends. Without a server it skips the
// test, except under CI, where a missing server is a failure.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, ServerDSN())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL does not answer at %s: %v (.ci/run should have started it)", ServerDSN(), err)
		}
		t.Skipf("PostgreSQL test skipped: no server at %s (%v); set HERALD_TEST_POSTGRES", ServerDSN(), err)
	}
	defer admin.Close(context.Background())
	name := "herald_t_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, ServerDSN())
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(ServerDSN(), name)
}

// withDatabase replaces the database name in a postgres:// URL.
func withDatabase(dsn, name string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		panic(err)
	}
	rest := ""
	if i := strings.Index(dsn, "?"); i >= 0 {
		rest = dsn[i:]
	}
	user := cfg.User
	if cfg.Password != "" {
		user += ":" + cfg.Password
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s%s", user, cfg.Host, cfg.Port, name, rest)
}
