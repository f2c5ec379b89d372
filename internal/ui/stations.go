package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// stationRoutes manage provisioning stations' tokens: admins only.
func (h *Handler) stationRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /stations", Access: web.Admin, Handle: h.stationsPage},
		{Pattern: "POST /stations", Access: web.Admin, Handle: h.createStationToken},
		{Pattern: "POST /stations/{id}/revoke", Access: web.Admin, Handle: web.WithID("id", h.revokeStationToken)},
	}
}

var stationFields = []string{"worker", "expires_at"}

// stationsView is what the stations page shows; New is a token just made,
// shown this once.
type stationsView struct {
	Tokens []herald.StationToken
	Pager  pager
	New    *directory.NewStationToken
}

func (h *Handler) stationsPage(w http.ResponseWriter, r *http.Request) error {
	return h.showStations(w, r, url.Values{}, nil, nil)
}

// showStations renders the stations page with the form as given; formErr
// says what is wrong with it, created is a token to show once.
func (h *Handler) showStations(w http.ResponseWriter, r *http.Request, form url.Values, formErr error, created *directory.NewStationToken) error {
	tokens, err := h.dir.ListStationTokens(r.Context(), actor(r))
	if err != nil {
		return err
	}
	pg := pagerFor(r, "station tokens")
	tokens = pageOf(tokens, &pg, func(t herald.StationToken) string { return t.Station })
	p := page{Title: "Stations", Form: form, Data: stationsView{Tokens: tokens, Pager: pg, New: created}}
	return h.renderForm(w, r, "stations", p, formErr, stationFields)
}

func (h *Handler) createStationToken(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	var expires *time.Time
	if s := strings.TrimSpace(f.Get("expires_at")); s != "" {
		t, err := parseSince(s)
		if err != nil {
			// Say what else is wrong too, as the directory would.
			errs := herald.Errors{}
			errs.Add(directory.CheckStation(strings.TrimSpace(f.Get("worker"))))
			errs.Add(herald.Invalid("expires_at", "give a date and time like 2027-01-02T15:04 (UTC)"))
			return h.showStations(w, r, f, errs.Err(), nil)
		}
		expires = &t
	}
	t, err := h.dir.CreateStationToken(r.Context(), actor(r), strings.TrimSpace(f.Get("worker")), expires)
	if isFormError(err) {
		return h.showStations(w, r, f, err, nil)
	}
	if err != nil {
		return err
	}
	return h.showStations(w, r, url.Values{}, nil, &t)
}

func (h *Handler) revokeStationToken(w http.ResponseWriter, r *http.Request, id int64) error {
	if err := h.dir.RevokeStationToken(r.Context(), actor(r), id); err != nil {
		return err
	}
	return h.redirect(w, r, "/stations", fmt.Sprintf("Station token %d revoked: the station can no longer use it.", id))
}
