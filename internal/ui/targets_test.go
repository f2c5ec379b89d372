package ui

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/web"
)

// The handlers shared by webhooks and SCIM targets call the kind's method
// for the path's target and come back where the kind says, with its words.
func TestTargetHandlers(t *testing.T) {
	box, err := secretbox.New("a test key of enough length")
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{box: box}
	var called string
	var gotID, gotDelivery int64
	var gotEnabled bool
	k := targetKind{base: "/things", noun: "thing", nounTitle: "Thing", plural: "Things",
		enabled: "Thing on.", disabled: "Thing off.",
		setEnabled: func(_ context.Context, _ directory.Actor, id int64, enabled bool) error {
			called, gotID, gotEnabled = "setEnabled", id, enabled
			return nil
		},
		remove: func(_ context.Context, _ directory.Actor, id int64) error {
			called, gotID = "remove", id
			return nil
		},
		redeliver: func(_ context.Context, _ directory.Actor, id, did int64) error {
			called, gotID, gotDelivery = "redeliver", id, did
			return nil
		},
	}
	tests := []struct {
		name, did   string
		form        url.Values
		handle      func(targetKind) web.HandlerFunc
		wantCall    string
		wantEnabled bool
		wantTo      string
		wantNotice  string
	}{
		{name: "enable from the list", handle: h.setTargetEnabled, form: url.Values{"enabled": {"true"}}, wantCall: "setEnabled", wantEnabled: true, wantTo: "/things", wantNotice: "Thing on."},
		{name: "disable from its page", handle: h.setTargetEnabled, form: url.Values{"enabled": {"false"}, "back": {"page"}}, wantCall: "setEnabled", wantTo: "/things/5", wantNotice: "Thing off."},
		{name: "delete", handle: h.deleteTarget, wantCall: "remove", wantTo: "/things", wantNotice: "Thing deleted."},
		{name: "redeliver", handle: h.redeliverTarget, did: "9", wantCall: "redeliver", wantTo: "/things/5/deliveries/9", wantNotice: "Queued for redelivery."},
	}
	for _, tt := range tests {
		called, gotID, gotDelivery, gotEnabled = "", 0, 0, false
		r := httptest.NewRequest("POST", "/things/5", nil)
		r.PostForm = tt.form
		r.SetPathValue("id", "5")
		r.SetPathValue("did", tt.did)
		w := httptest.NewRecorder()
		if err := tt.handle(k)(w, r); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if called != tt.wantCall || gotID != 5 || gotEnabled != tt.wantEnabled || (tt.did == "9") != (gotDelivery == 9) {
			t.Errorf("%s: called %s(%d, %d, %v)", tt.name, called, gotID, gotDelivery, gotEnabled)
		}
		if loc := w.Header().Get("Location"); loc != tt.wantTo {
			t.Errorf("%s: to %q, want %q", tt.name, loc, tt.wantTo)
		}
		next := httptest.NewRequest("GET", tt.wantTo, nil)
		next.AddCookie(w.Result().Cookies()[0])
		if notice, _ := h.takeFlash(httptest.NewRecorder(), next); notice != tt.wantNotice {
			t.Errorf("%s: notice %q, want %q", tt.name, notice, tt.wantNotice)
		}
	}

	// A delivery id that is not one is refused before the kind is asked.
	r := httptest.NewRequest("POST", "/things/5/deliveries/x/redeliver", nil)
	r.SetPathValue("id", "5")
	r.SetPathValue("did", "x")
	called = ""
	if err := h.redeliverTarget(k)(httptest.NewRecorder(), r); herald.ErrorCode(err) != herald.ENOTFOUND || called != "" {
		t.Errorf("redeliver of delivery x: %v, called %q; want not found and nothing called", err, called)
	}
}
