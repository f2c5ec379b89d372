package directory

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// What an admin may set on a webhook, and how it is checked.

// WebhookInput is what an admin sets on a webhook. Missing booleans are
// false, a missing method is GET, missing events are none, missing enabled
// is true.
type WebhookInput struct {
	URL         string
	Description string
	Token       string
	Enabled     *bool
	herald.Triggers
	Method string
	Events []string
	// Format is FormatDefguard (when empty) or FormatEnvelope.
	Format string
	// IgnoreActors: "api_token:<id>", "user:<username>" or
	// "station:<name>"; OnlyGroups: group names.
	IgnoreActors []string
	OnlyGroups   []string
}

// maxFilterEntries bounds ignore_actors and only_groups: each is looked
// through for every event.
const maxFilterEntries = 100

// validate checks and normalises the input. Returns EINVALID naming each
// field at fault, all at once (herald.Errors).
func (in *WebhookInput) validate() error {
	var errs herald.Errors
	in.URL = strings.TrimSpace(in.URL)
	errs.Add(validateWebhookURL(in.URL))
	n := utf8.RuneCountInString(strings.TrimSpace(in.Description))
	switch {
	case n == 0:
		errs.Add(invalid("description", "is required (what the webhook is for)"))
	case n > 255:
		errs.Add(invalid("description", "must be at most 255 characters"))
	default:
		errs.Add(validateText("description", in.Description, 255))
	}
	if utf8.RuneCountInString(in.Token) > 250 {
		errs.Add(invalid("token", "must be at most 250 characters"))
	} else if strings.ContainsFunc(in.Token, unicode.IsControl) {
		errs.Add(invalid("token", "must be one line of printable characters"))
	}
	switch strings.ToUpper(in.Method) {
	case "", "GET":
		in.Method = "GET"
	case "POST":
		in.Method = "POST"
	default:
		errs.Add(invalid("method", "must be GET or POST"))
	}
	events := append([]string{}, normalizeNames(in.Events)...)
	for _, e := range events {
		if !slices.Contains(herald.Subscriptions(), e) {
			errs.Add(invalid("events", "%q is not an added event; choose from %s", e, strings.Join(herald.Subscriptions(), ", ")))
			break
		}
	}
	in.Events = events
	if !in.Triggers.Any() && len(events) == 0 {
		errs.Add(invalid("events", "choose at least one trigger or event; a webhook with none would never be sent anything"))
	}
	switch in.Format {
	case "", herald.FormatDefguard:
		in.Format = herald.FormatDefguard
	case herald.FormatEnvelope:
	default:
		errs.Add(invalid("format", "must be %s", strings.Join(herald.Formats, " or ")))
	}
	in.IgnoreActors = append([]string{}, normalizeNames(in.IgnoreActors)...)
	if len(in.IgnoreActors) > maxFilterEntries {
		errs.Add(invalid("ignore_actors", "may list at most %d actors", maxFilterEntries))
	} else {
		for _, key := range in.IgnoreActors {
			if err := validateActorKey(key); err != nil {
				errs.Add(err)
				break
			}
		}
	}
	var err error
	in.OnlyGroups, err = checkOnlyGroups(in.OnlyGroups)
	errs.Add(err)
	return errs.Err()
}

// validateWebhookURL checks a receiver's address: absolute http(s) with a
// host, no fragment, no credentials, a real port.
func validateWebhookURL(s string) error {
	return validateURLField("url", s, "https://hooks.example.com/herald")
}

// validateURLField checks an address Herald sends to, in field (a
// webhook's url, a SCIM target's base_url), as validateWebhookURL
// describes; example shows a good one. Where it connects to is checked at
// every request, after DNS, by the egress guard.
func validateURLField(field, s, example string) error {
	if s == "" {
		return invalid(field, "is required")
	}
	if len(s) > 2048 {
		return invalid(field, "must be at most 2048 characters")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return invalid(field, "must be an absolute http:// or https:// URL with a host, like %s", example)
	}
	if strings.Contains(s, "#") {
		return invalid(field, "must not contain a #fragment")
	}
	if u.User != nil {
		return invalid(field, "must not contain a user name or password; send credentials as the secret token")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalid(field, "port %q is not a port number (1-65535)", p)
		}
	}
	return nil
}

// messageOf is the message of a validation error, without its field.
func messageOf(err error) string {
	var e *herald.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// validateActorKey checks an entry of ignore_actors: "api_token:<id>",
// "user:<username>" or "station:<name>". Returns EINVALID.
func validateActorKey(key string) error {
	kind, name, _ := strings.Cut(key, ":")
	var err error
	switch kind {
	case "api_token":
		if id, perr := strconv.ParseInt(name, 10, 64); perr != nil || id < 1 || strconv.FormatInt(id, 10) != name {
			err = invalid("ignore_actors", "must be a token id (a positive number)")
		}
	case "user":
		err = validateName("ignore_actors", name)
	case "station":
		err = validateStation(name)
	default:
		return invalid("ignore_actors", "%q must be api_token:<id>, user:<username> or station:<name>", key)
	}
	if err != nil {
		return invalid("ignore_actors", "%q: %s", key, messageOf(err))
	}
	return nil
}

func (in WebhookInput) apply(w *herald.Webhook) {
	w.URL, w.Description, w.Token, w.Method, w.Events = in.URL, in.Description, in.Token, in.Method, in.Events
	w.Format, w.IgnoreActors, w.OnlyGroups = in.Format, in.IgnoreActors, in.OnlyGroups
	w.Triggers = in.Triggers
	w.Enabled = in.Enabled == nil || *in.Enabled
	if w.Enabled {
		w.DisabledReason = ""
	}
}

// checkOnlyGroups returns an only_groups filter (of a webhook or a SCIM
// target) normalized, and the field error if it lists too many groups or
// a name that is no group name.
func checkOnlyGroups(groups []string) ([]string, error) {
	groups = append([]string{}, normalizeNames(groups)...)
	if len(groups) > maxFilterEntries {
		return groups, invalid("only_groups", "may list at most %d groups", maxFilterEntries)
	}
	for _, g := range groups {
		if err := validateName("only_groups", g); err != nil {
			return groups, invalid("only_groups", "%q is not a group name: %s", g, messageOf(err))
		}
	}
	return groups, nil
}
