package main

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

type statementsResult struct {
	Users      int   `json:"users"`
	Deliveries int64 `json:"deliveries"`
	// Statements is every statement Herald ran on its database (round
	// trips, BEGIN and COMMIT included), Commits its committed
	// transactions.
	Statements int64 `json:"statements"`
	Commits    int64 `json:"commits"`
	// PerUser and PerDelivery split Statements by what they serve:
	// directory writes (the group commit) per user created, the queue's
	// (claims, leases, outcomes, vacuums) per delivery. BEGIN and COMMIT,
	// which both send, are counted apart (TransactionControl).
	PerUser            float64 `json:"statements_per_user"`
	PerDelivery        float64 `json:"statements_per_delivery"`
	TransactionControl int64   `json:"transaction_control"`
	// Updates of deliveries rows (leases and outcomes), and those
	// PostgreSQL made in place (HOT: no index written again).
	DeliveryUpdates    int64 `json:"delivery_updates"`
	DeliveryHOTUpdates int64 `json:"delivery_hot_updates"`
	// Top lists the statements by calls.
	Top []statementRow `json:"top"`
}

type statementRow struct {
	Query  string  `json:"query"`
	Calls  int64   `json:"calls"`
	Rows   int64   `json:"rows"`
	MeanMS float64 `json:"mean_ms"`
	// TotalMS is the time PostgreSQL spent on the statement in all,
	// waits for locks included.
	TotalMS float64 `json:"total_ms"`
	Queue   bool    `json:"queue"`
}

// statements (PostgreSQL only): 10 webhooks, 2,000 users created by 32
// clients and their 20,000 deliveries; PostgreSQL's own count of the
// statements Herald sent for them (pg_stat_statements, reset for the
// scenario's database just before the first user). Counts of round trips
// move far less than rates on a busy machine: a change is measured by
// them first. Needs the pg_stat_statements extension loaded by the server
// (shared_preload_libraries), and creates its view in the server URL's
// database if missing; without it the scenario is skipped.
func (b *bench) statements() (*statementsResult, error) {
	const hooks = 10
	users := b.scale(2000, 200)
	total := int64(users * hooks)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.postgres)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	// The extension can be created where the server does not load its
	// library; only reading its view tells.
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		b.logf("statements: skipped: no pg_stat_statements (%v); the server must load it (shared_preload_libraries)", err)
		return nil, nil
	}
	if _, err := conn.Exec(ctx, `SELECT 1 FROM pg_stat_statements LIMIT 1`); err != nil {
		b.logf("statements: skipped: pg_stat_statements is not loaded (%v); add it to the server's shared_preload_libraries and restart it", err)
		return nil, nil
	}
	rcv, err := newReceiverUp()
	if err != nil {
		return nil, err
	}
	defer rcv.down()
	h, c, err := b.heraldWithWebhooks("statements", rcv, hooks)
	if err != nil {
		return nil, err
	}
	db, err := url.Parse(h.database)
	if err != nil {
		return nil, err
	}
	var dbid uint32
	if err := conn.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = $1`, strings.TrimPrefix(db.Path, "/")).Scan(&dbid); err != nil {
		return nil, err
	}
	commits := func() (int64, error) {
		var n int64
		// The statistics of a backend reach pg_stat_database when it
		// goes idle, at most a second later.
		_, _ = conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`)
		err := conn.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datid = $1`, dbid).Scan(&n)
		return n, err
	}
	time.Sleep(1500 * time.Millisecond)
	before, err := commits()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_stat_statements_reset(0, $1, 0)`, dbid); err != nil {
		return nil, err
	}
	took, err := c.createUsers("s", users, 32, nil)
	if err != nil {
		return nil, err
	}
	if err := b.waitCount(rcv, total, 2*time.Minute, "statements", h.exited); err != nil {
		return nil, err
	}
	span := rcv.span()
	if err := b.stopHerald(h); err != nil {
		return nil, err
	}
	time.Sleep(1500 * time.Millisecond)
	after, err := commits()
	if err != nil {
		return nil, err
	}
	res := &statementsResult{Users: users, Deliveries: rcv.count.Load(), Commits: after - before}
	if err := tableUpdates(ctx, h.database, res); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT query, calls, rows, mean_exec_time, total_exec_time FROM pg_stat_statements
		WHERE dbid = $1 ORDER BY calls DESC, query`, dbid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var perUser, perDelivery int64
	for rows.Next() {
		var r statementRow
		if err := rows.Scan(&r.Query, &r.Calls, &r.Rows, &r.MeanMS, &r.TotalMS); err != nil {
			return nil, err
		}
		r.Query = strings.Join(strings.Fields(r.Query), " ")
		r.MeanMS, r.TotalMS = round(r.MeanMS, 3), round(r.TotalMS, 1)
		r.Queue = queueStatement(r.Query)
		res.Statements += r.Calls
		switch q := strings.ToLower(r.Query); {
		case q == "begin" || q == "commit" || q == "rollback" || strings.HasPrefix(q, "begin "):
			res.TransactionControl += r.Calls
		case r.Queue:
			perDelivery += r.Calls
		default:
			perUser += r.Calls
		}
		res.Top = append(res.Top, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res.PerUser = round(float64(perUser)/float64(users), 2)
	res.PerDelivery = round(float64(perDelivery)/float64(max(res.Deliveries, 1)), 3)
	b.logf("statements: deliveries rows updated %d times, %d of them in place (HOT)", res.DeliveryUpdates, res.DeliveryHOTUpdates)
	b.logf("statements: %d users in %v, %d deliveries in %v; %d statements, %d commits, %d BEGIN/COMMIT; %.2f per user (directory), %.3f per delivery (queue)",
		users, took.Round(time.Millisecond), res.Deliveries, span.Round(time.Millisecond), res.Statements, res.Commits, res.TransactionControl,
		res.PerUser, res.PerDelivery)
	if len(res.Top) > 25 {
		res.Top = res.Top[:25]
	}
	return res, nil
}

// queueStatement reports whether a statement is the delivery queue's (on
// the deliveries and attempts it owns, the webhook list a claim reads, a
// vacuum) rather than a directory write's. BEGIN and COMMIT, which both
// send, are not.
func queueStatement(q string) bool {
	q = strings.ToLower(q)
	switch {
	case strings.HasPrefix(q, "insert into deliveries"), strings.Contains(q, "insert into events"):
		return false // the fan-out, in the directory's change
	case strings.Contains(q, "deliveries"), strings.Contains(q, "attempts"), strings.HasPrefix(q, "vacuum"):
		return true
	case strings.HasPrefix(q, "select") && strings.Contains(q, "from webhooks order by id"):
		return true
	}
	return false
}

// tableUpdates reads how often the deliveries table's rows were updated
// in the scenario's database, and how often in place.
func tableUpdates(ctx context.Context, database string, res *statementsResult) error {
	conn, err := pgx.Connect(ctx, database)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'deliveries'`).
		Scan(&res.DeliveryUpdates, &res.DeliveryHOTUpdates)
}
