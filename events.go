package herald

// The one table of event types and webhook triggers. Everything that lists
// triggers or events (the Webhook's flags, the store's columns, the API,
// the UI, validation) derives from EventTypes.

// Event types. The first four are the seed's triggers; the rest are Herald's
// additions that webhooks must ask for by name.
const (
	EventUserCreated   = "user_created"
	EventUserModified  = "user_modified"
	EventUserDeleted   = "user_deleted"
	EventUserKeys      = "user_keys"
	EventGroupCreated  = "group_created"
	EventGroupModified = "group_modified"
	EventGroupDeleted  = "group_deleted"
	EventWebhookTest   = "webhook_test"
	// EventSCIMSync and EventSCIMRemove are a resync's events, each for one
	// SCIM target only (scim.ChangeSync, scim.ChangeRemove): no trigger or
	// subscription fans them out, and the event feed leaves them out.
	EventSCIMSync   = "scim_sync"
	EventSCIMRemove = "scim_remove"
)

// Triggers are the seed's four webhook flags, one per seed event. Webhook
// and every input of a webhook embed them, so the JSON keys are spelled
// here once.
type Triggers struct {
	OnUserCreated    bool `json:"on_user_created"`
	OnUserModified   bool `json:"on_user_modified"`
	OnUserDeleted    bool `json:"on_user_deleted"`
	OnHWKeyProvision bool `json:"on_hwkey_provision"`
}

// EventType describes one kind of event and how a webhook subscribes to it.
type EventType struct {
	// Name is the event's type: the X-Defguard-Event header.
	Name string
	// Trigger is the webhook flag (a JSON key of Triggers, and the
	// webhooks table's column) that subscribes to it; "" for the others.
	Trigger string
	// Subscription is the name a webhook lists in its events to get it;
	// "" for the seed's events and for webhook_test.
	Subscription string
	// Label names it for people, as the web UI shows it.
	Label string
	// flag is the Triggers field of Trigger.
	flag func(*Triggers) *bool
}

// EventTypes are every event Herald sends, the seed's first.
var EventTypes = []EventType{
	{Name: EventUserCreated, Trigger: "on_user_created", Label: "User created", flag: func(t *Triggers) *bool { return &t.OnUserCreated }},
	{Name: EventUserModified, Trigger: "on_user_modified", Label: "User modified", flag: func(t *Triggers) *bool { return &t.OnUserModified }},
	{Name: EventUserDeleted, Trigger: "on_user_deleted", Label: "User deleted", flag: func(t *Triggers) *bool { return &t.OnUserDeleted }},
	{Name: EventUserKeys, Trigger: "on_hwkey_provision", Label: "User YubiKey provision", flag: func(t *Triggers) *bool { return &t.OnHWKeyProvision }},
	{Name: EventGroupCreated, Subscription: EventGroupCreated, Label: "Group created"},
	{Name: EventGroupModified, Subscription: EventGroupModified, Label: "Group modified"},
	{Name: EventGroupDeleted, Subscription: EventGroupDeleted, Label: "Group deleted"},
	{Name: EventAuditEntry, Subscription: "audit", Label: "Audit log entry"},
	{Name: EventWebhookTest, Label: "Test"},
	{Name: EventSCIMSync, Label: "SCIM resync: sync"},
	{Name: EventSCIMRemove, Label: "SCIM resync: remove"},
}

// Targeted reports whether events of type typ are each meant for one
// webhook alone (a test send, a resync's SCIM changes): they are never
// fanned out, and the event feed leaves them out with the audit log's.
func Targeted(typ string) bool {
	return typ == EventWebhookTest || typ == EventSCIMSync || typ == EventSCIMRemove
}

// Flag returns the field of t that subscribes to this event type, or nil
// if no trigger does.
func (et EventType) Flag(t *Triggers) *bool {
	if et.flag == nil {
		return nil
	}
	return et.flag(t)
}

// Any reports whether t subscribes to at least one event type.
func (t Triggers) Any() bool {
	for _, et := range TriggerTypes() {
		if *et.Flag(&t) {
			return true
		}
	}
	return false
}

// LookupEventType returns the event type named name.
func LookupEventType(name string) (EventType, bool) {
	for _, et := range EventTypes {
		if et.Name == name {
			return et, true
		}
	}
	return EventType{}, false
}

// TriggerTypes are the event types with a trigger flag (the seed's four).
func TriggerTypes() []EventType {
	return typesWhere(func(et EventType) bool { return et.Trigger != "" })
}

// SubscriptionTypes are the event types a webhook subscribes to by listing
// their Subscription in its events.
func SubscriptionTypes() []EventType {
	return typesWhere(func(et EventType) bool { return et.Subscription != "" })
}

// typesWhere returns the event types for which keep is true, in order.
func typesWhere(keep func(EventType) bool) []EventType {
	var out []EventType
	for _, et := range EventTypes {
		if keep(et) {
			out = append(out, et)
		}
	}
	return out
}

// Subscriptions are the names a webhook may list in its events.
func Subscriptions() []string {
	var out []string
	for _, et := range SubscriptionTypes() {
		out = append(out, et.Subscription)
	}
	return out
}

// Wants reports whether w subscribes to events of type typ, by a trigger
// or by its events list.
func (w Webhook) Wants(typ string) bool {
	et, ok := LookupEventType(typ)
	if !ok {
		return false
	}
	if f := et.Flag(&w.Triggers); f != nil {
		return *f
	}
	for _, e := range w.Events {
		if e != "" && e == et.Subscription {
			return true
		}
	}
	return false
}

// Succeeded reports whether a receiver's HTTP status counts as a
// successful delivery: any 2xx. A 3xx is a failure (redirects are not
// followed).
func Succeeded(statusCode int) bool {
	return statusCode >= 200 && statusCode < 300
}
