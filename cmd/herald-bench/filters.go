package main

// With -filters, every second webhook (odd n) has ignore_actors and
// only_groups, so that the fan-out statement decides them for every event
// (the cost -filters measures). Its ignore_actors name actors that never
// act; its only_groups name a group the bench's users never join, so those
// webhooks get none of the bench's user_created events: a scenario then
// waits for the deliveries of the unfiltered half only (delivering).
//
// A -filters run writes half the deliveries of a plain run, so it is
// compared twice, with the same build: against a plain run (what filters
// save a deployment that uses them), and against a run with -webhooks 5,
// which writes exactly as many deliveries per user (5) but has no
// filtered webhooks to decide: the difference between those two is the
// cost of deciding the filters.

// filterGroup is the group the filtered webhooks are limited to.
const filterGroup = "bench-team"

// filterFields are the filtered webhooks' extra fields.
var filterFields = map[string]any{
	"ignore_actors": []string{"user:bench-echo", "api_token:999999", "station:bench-station"},
	"only_groups":   []string{filterGroup, "bench-other"},
}

// filtered reports whether webhook n of a scenario has filters.
func filtered(n int) bool { return n%2 == 1 }

// delivering is how many of hooks webhooks receive the bench's events.
func (b *bench) delivering(hooks int) int {
	if !b.filters {
		return hooks
	}
	return hooks - hooks/2
}

// defaultHooks is how many webhooks throughput and api subscribe without
// -webhooks.
const defaultHooks = 10

// scenarioHooks is how many webhooks throughput and api subscribe.
func (b *bench) scenarioHooks() int {
	if b.webhooks > 0 {
		return b.webhooks
	}
	return defaultHooks // a bench made without main's flags
}
