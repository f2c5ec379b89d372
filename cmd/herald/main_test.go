package main

import (
	"strings"
	"testing"
)

// The database named in the start-up log never holds a password, wherever
// the PostgreSQL URL carries it.
func TestDatabaseForLog(t *testing.T) {
	for _, tc := range []struct {
		dsn, want string
	}{
		{"herald.db", "herald.db"},
		{"/data/herald.db", "/data/herald.db"},
		{"postgres://herald@db.example.com/herald", "postgres://herald@db.example.com/herald"},
		{"postgres://herald:s3cr3t-pw@db.example.com/herald", "postgres://herald:xxxxx@db.example.com/herald"},
		{"postgres://herald@db.example.com/herald?password=s3cr3t-pw", "postgres://herald@db.example.com/herald?password=xxxxx"},
		{"postgresql://herald@db/herald?sslmode=verify-full&sslpassword=s3cr3t-pw", "postgresql://herald@db/herald?sslmode=verify-full&sslpassword=xxxxx"},
		{"postgres://herald@db/herald?PASSWORD=s3cr3t-pw&password=s3cr3t-pw", "postgres://herald@db/herald?PASSWORD=xxxxx&password=xxxxx"},
		{"postgres://h:s3cr3t-pw@db/herald?password=s3cr3t-pw&sslmode=disable", "postgres://h:xxxxx@db/herald?password=xxxxx&sslmode=disable"},
		{"postgres://herald@db/herald?password=s3cr3t-pw;x=%zz", "postgres://herald@db/herald?(unparseable query)"},
		{"postgres://h:s3cr3t-pw@db:port/herald", "postgres://(unparseable URL)"},
	} {
		got := databaseForLog(tc.dsn)
		if got != tc.want {
			t.Errorf("databaseForLog(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
		if strings.Contains(got, "s3cr3t") {
			t.Errorf("databaseForLog(%q) = %q shows the password", tc.dsn, got)
		}
	}
}
