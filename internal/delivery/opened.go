package delivery

import "github.com/heraldhq/herald"

// openedHook is a webhook ready to send to (its secrets opened), or the
// reason it is not. Opening costs AES work per secret, and parsing and
// decoding more, so the engine keeps the last opened target of each
// webhook with the stored fields it came from (openedFrom): a changed URL,
// method or secret is opened anew.
type openedHook struct {
	target *target
	err    string
	// unreadable: the key cannot open the token or signing secret.
	unreadable bool
}

type openedFrom struct {
	url, method, token, secret, previous string
	previousUntil                        int64 // Unix microseconds
}

type openedEntry struct {
	from openedFrom
	hook openedHook
}

func (e *Engine) open(w herald.Webhook) openedHook {
	from := openedFrom{w.URL, w.Method, w.Token, w.SigningSecret, w.PreviousSecret, w.PreviousSecretUntil.UnixMicro()}
	e.mu.Lock()
	o, ok := e.opened[w.ID]
	e.mu.Unlock()
	if ok && o.from == from {
		return o.hook
	}
	var hook openedHook
	secrets := []struct {
		name  string
		value *string
	}{{"token", &w.Token}, {"signing secret", &w.SigningSecret}}
	if w.Kind == herald.WebhookKindSCIM {
		// A SCIM target signs nothing: its token alone must open.
		secrets = secrets[:1]
		w.SigningSecret, w.PreviousSecret = "", ""
	}
	for _, f := range secrets {
		var err error
		if *f.value, err = e.box.Open(*f.value); err != nil {
			hook.err = "cannot decrypt the webhook's secrets: Herald's secret key cannot open its " + f.name + " (sealed under another key)"
			hook.unreadable = true
			break
		}
	}
	if p, err := e.box.Open(w.PreviousSecret); err == nil {
		w.PreviousSecret = p
	} else {
		w.PreviousSecret = "" // it cannot sign: the current secret signs alone
	}
	if hook.err == "" {
		var err error
		if hook.target, err = newTarget(w); err != nil {
			hook.err = "cannot build the request: " + err.Error()
		}
	}
	e.mu.Lock()
	e.opened[w.ID] = openedEntry{from: from, hook: hook}
	e.mu.Unlock()
	return hook
}
