package herald

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// Every trigger of the table is a JSON key of Triggers and every field of
// Triggers has its row: the struct and the table cannot drift apart.
func TestTriggersMatchTable(t *testing.T) {
	typ := reflect.TypeFor[Triggers]()
	var keys []string
	for i := range typ.NumField() {
		keys = append(keys, typ.Field(i).Tag.Get("json"))
	}
	var fromTable []string
	for _, et := range TriggerTypes() {
		fromTable = append(fromTable, et.Trigger)
		var tr Triggers
		*et.Flag(&tr) = true
		b, _ := json.Marshal(tr)
		var m map[string]bool
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if !m[et.Trigger] || len(m) != len(keys) {
			t.Errorf("%s: setting its flag gives %s", et.Name, b)
		}
		if !tr.Any() {
			t.Errorf("%s: Any() = false with its flag set", et.Name)
		}
	}
	if (Triggers{}).Any() {
		t.Error("Any() = true with no flag set")
	}
	if !slices.Equal(keys, fromTable) {
		t.Errorf("Triggers has %v, the table %v", keys, fromTable)
	}
	if got := Subscriptions(); !slices.Equal(got, []string{"group_created", "group_modified", "group_deleted", "audit"}) {
		t.Errorf("Subscriptions() = %v", got)
	}
}

func TestWebhookWants(t *testing.T) {
	w := Webhook{Triggers: Triggers{OnUserModified: true, OnHWKeyProvision: true}, Events: []string{EventGroupDeleted}}
	for _, tc := range []struct {
		typ  string
		want bool
	}{
		{EventUserCreated, false},
		{EventUserModified, true},
		{EventUserDeleted, false},
		{EventUserKeys, true},
		{EventGroupCreated, false},
		{EventGroupDeleted, true},
		{EventWebhookTest, false},
		{"no_such_event", false},
	} {
		if got := w.Wants(tc.typ); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.typ, got, tc.want)
		}
	}
}

func TestSucceeded(t *testing.T) {
	for code, want := range map[int]bool{0: false, 199: false, 200: true, 204: true, 299: true, 300: false, 301: false, 404: false, 410: false, 503: false} {
		if got := Succeeded(code); got != want {
			t.Errorf("Succeeded(%d) = %v, want %v", code, got, want)
		}
	}
}
