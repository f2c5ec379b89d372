package main

// With -filters, every second webhook (odd n) has ignore_actors and
// only_groups, so that the fan-out statement decides them for every event
// (the cost -filters measures). Its ignore_actors name actors that never
// act; its only_groups name a group the bench's users never join, so those
// webhooks get none of the bench's user_created events: a scenario then
// waits for the deliveries of the unfiltered half only (delivering).
// Compare a -filters run with a run without it of the same build.

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
