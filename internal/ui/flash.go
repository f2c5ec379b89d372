package ui

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/web"
)

// A flash is the notice shown once after an action ("User jdoe created."),
// carried from the action to the next page in a short-lived cookie sealed
// with the secret key. A notice is never read from the URL: a link cannot
// put words in Herald's mouth.
const (
	flashCookie = "herald_flash"
	flashTTL    = time.Minute
	// flashPurpose starts every sealed flash, so no other sealed value
	// can pass for one; flashFailPurpose one that tells of a failure, shown
	// as an error.
	flashPurpose     = "flash"
	flashFailPurpose = "flash-failed"
)

// redirect sends the browser to path (303), with notice as a flash when
// it is not empty.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, path, notice string) error {
	return h.redirectFlash(w, r, path, flashPurpose, notice)
}

// redirectFailed is redirect with a notice that tells of a failure.
func (h *Handler) redirectFailed(w http.ResponseWriter, r *http.Request, path, notice string) error {
	return h.redirectFlash(w, r, path, flashFailPurpose, notice)
}

func (h *Handler) redirectFlash(w http.ResponseWriter, r *http.Request, path, purpose, notice string) error {
	if notice != "" {
		expires := time.Now().Add(flashTTL).Unix()
		http.SetCookie(w, &http.Cookie{
			Name: flashCookie, Value: h.box.Seal(purpose + "|" + strconv.FormatInt(expires, 10) + "|" + notice),
			Path: "/", MaxAge: int(flashTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode,
			Secure: web.ClientOf(r).Secure,
		})
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// takeFlash returns the request's flash notice, if it carries a good one,
// and whether it tells of a failure, and clears it so it shows once.
func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) (notice string, failed bool) {
	c, err := r.Cookie(flashCookie)
	if err != nil || h.box == nil {
		return "", false
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: web.ClientOf(r).Secure})
	plain, err := h.box.Open(c.Value)
	if err != nil {
		return "", false
	}
	purpose, rest, _ := strings.Cut(plain, "|")
	expires, notice, _ := strings.Cut(rest, "|")
	until, err := strconv.ParseInt(expires, 10, 64)
	if (purpose != flashPurpose && purpose != flashFailPurpose) || err != nil || time.Now().Unix() > until {
		return "", false
	}
	return notice, purpose == flashFailPurpose
}
