// Package session sets and clears the login session cookie, the same way
// for the JSON API and the web UI.
package session

import (
	"net/http"
	"time"
)

// CookieName is the name of the login session cookie.
const CookieName = "herald_session"

// Set stores a session token in an HttpOnly, SameSite=Lax cookie. secure
// marks it Secure: the request came over https, or Herald's public URL is
// https (web.Client.Secure).
func Set(w http.ResponseWriter, token string, ttl time.Duration, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: token, Path: "/", MaxAge: int(ttl.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure,
	})
}

// Clear removes the session cookie.
func Clear(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure,
	})
}

// Token returns the session token of a request, or "".
func Token(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}
