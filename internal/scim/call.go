package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
)

// maxLog bounds Result.Log, as the delivery log bounds an answer.
const maxLog = 16 << 10

// maxLogBody bounds one request's or answer's body in the log, so that
// one long answer leaves room for the calls after it.
const maxLogBody = 3 << 10

// run is one Apply or Resync: the calls made so far and, once one ends
// it, the verdict.
type run struct {
	ctx     context.Context
	d       Doer
	s       Store
	t       Target
	entries []string
	status  int
	// ended: the verdict is set; no more calls.
	ended      bool
	verdict    Verdict
	err        string
	retryAfter string
}

// answer is a call's outcome: the response, or ok == false when the call
// ended the run (a transport error).
type answer struct {
	Response
	ok bool
}

// call sends one request (path relative to the base URL, body marshalled
// unless nil) and logs it. A transport error ends the run: Failed when
// the egress guard refused, else Retry.
func (r *run) call(method, path string, body any) answer {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			r.end(Failed, "cannot encode the request: "+err.Error())
			return answer{}
		}
	}
	u := strings.TrimSuffix(r.t.BaseURL, "/") + path
	resp, err := r.d.Do(r.ctx, r.t, Request{Method: method, URL: u, Body: raw})
	entry := method + " " + path + "\n" + clip(string(raw)) + "\n→ "
	if err != nil {
		r.entries = append(r.entries, entry+"error: "+err.Error())
		if r.d.Blocked(err) {
			r.end(Failed, err.Error())
		} else {
			r.end(Retry, method+" "+path+": "+err.Error())
		}
		return answer{}
	}
	r.status = resp.Status
	r.entries = append(r.entries, fmt.Sprintf("%s%d\n%s", entry, resp.Status, clip(string(resp.Body))))
	if resp.TooLarge {
		// A cut-off list would read as a shorter one, or not at all.
		r.end(Failed, fmt.Sprintf("%s %s: the target's answer is larger than Herald reads", method, path))
		return answer{}
	}
	return answer{Response: resp, ok: true}
}

// succeeded reports whether a is a 2xx answer.
func (a answer) succeeded() bool { return a.ok && herald.Succeeded(a.Status) }

// reject ends the run with the verdict an answer that is not what the
// step needed deserves: 5xx, 429 Retry (with its Retry-After); 410 Gone;
// any other status Failed, naming the RFC 7644 error's scimType and
// detail.
func (r *run) reject(method, path string, a answer) {
	if !a.ok {
		return // the call ended the run already
	}
	why := fmt.Sprintf("%s %s: the target answered %d %s", method, path, a.Status, http.StatusText(a.Status))
	var e struct {
		ScimType string `json:"scimType"`
		Detail   string `json:"detail"`
	}
	if json.Unmarshal(a.Body, &e) == nil {
		if e.ScimType != "" {
			why += " (scimType " + e.ScimType + ")"
		}
		if e.Detail != "" {
			why += ": " + e.Detail
		}
	}
	switch {
	case a.Status >= 500 || a.Status == http.StatusTooManyRequests:
		r.end(Retry, why)
		r.retryAfter = a.RetryAfter
	case a.Status == http.StatusGone:
		r.end(Gone, why)
	default:
		r.end(Failed, why)
	}
}

// storeFailed ends the run on a database error: the change is tried again.
func (r *run) storeFailed(err error) {
	r.end(Retry, "database: "+err.Error())
}

func (r *run) end(v Verdict, why string) {
	if !r.ended {
		r.ended, r.verdict, r.err = true, v, why
	}
}

// result is the run's Result: Done unless something ended it.
func (r *run) result() Result {
	return Result{Verdict: r.verdict, Status: r.status, Log: joinLog(r.entries), Error: r.err, RetryAfter: r.retryAfter}
}

// joinLog joins the calls' entries within maxLog. When they do not fit,
// the first call and as many of the last as fit are kept (they say the
// most), and a note says how many were left out: an entry is at most
// about 2 x maxLogBody, so the first and the last always fit.
func joinLog(entries []string) string {
	all := strings.Join(entries, "\n\n")
	if len(all) <= maxLog {
		return all
	}
	size := len(entries[0]) + 64
	from := len(entries)
	for from > 1 && size+len(entries[from-1])+2 <= maxLog {
		from--
		size += len(entries[from]) + 2
	}
	note := fmt.Sprintf("(%d calls left out)", from-1)
	return strings.Join(append([]string{entries[0], note}, entries[from:]...), "\n\n")
}

// clip bounds a body in the log.
func clip(s string) string {
	if len(s) <= maxLogBody {
		return s
	}
	return s[:maxLogBody] + "…(cut)"
}

// resourcePath is the path of one resource: endpoint "/Users" or
// "/Groups", id escaped.
func resourcePath(endpoint, id string) string {
	return endpoint + "/" + url.PathEscape(id)
}

// filterPath is a search of endpoint by filter, URL-encoded with %20 for
// spaces (some providers do not read "+" as a space).
func filterPath(endpoint, filter string) string {
	return endpoint + "?filter=" + strings.ReplaceAll(url.QueryEscape(filter), "+", "%20")
}
