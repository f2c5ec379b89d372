package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// pager is one page of a list: its search (?q=), its number (?page=, from
// 1) and how many rows match in all. Every page has a stable URL.
type pager struct {
	Path  string // the list's path, without query
	Q     string
	Page  int
	Per   int
	Total int
	Noun  string // what the rows are, plural: "users"
	// Extra is the rest of the query to keep on every page's link (a
	// filter, for instance).
	Extra url.Values
}

// listPerPage is how many rows a list shows on one page.
const listPerPage = 50

// maxPage bounds ?page= so that a page's row offsets cannot overflow an
// int; a page past the end shows the last page anyway.
const maxPage = 1 << 30

// pagerFor reads ?q= and ?page= of r. A page below 1 or not a number is the
// first page; a page too big to hold is clamped to maxPage, and the list
// then shows its last page (see pageOf and clamp).
func pagerFor(r *http.Request, noun string) pager {
	q := r.URL.Query()
	// Out of range, ParseInt gives the largest number of the sign.
	n, _ := strconv.ParseInt(q.Get("page"), 10, 64)
	return pager{Path: r.URL.Path, Q: strings.TrimSpace(q.Get("q")), Page: int(min(max(n, 1), maxPage)), Per: listPerPage, Noun: noun}
}

// clamp moves a page past the end (once Total is known) to the last page.
func (p *pager) clamp() {
	p.Page = min(max(p.Page, 1), p.Pages())
}

// Offset is the index of the page's first row.
func (p pager) Offset() int { return (p.Page - 1) * p.Per }

// Pages is how many pages there are (at least 1).
func (p pager) Pages() int { return max((p.Total+p.Per-1)/p.Per, 1) }

// First and Last are the 1-based numbers of the rows shown.
func (p pager) First() int { return min(p.Offset()+1, p.Total) }
func (p pager) Last() int  { return min(p.Offset()+p.Per, p.Total) }

// URL is the link to page n with the same search.
func (p pager) URL(n int) string {
	v := url.Values{}
	for k, vs := range p.Extra {
		v[k] = vs
	}
	if p.Q != "" {
		v.Set("q", p.Q)
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return p.Path
	}
	return p.Path + "?" + v.Encode()
}

// Prev and Next are the links to the neighbouring pages, "" at the ends.
func (p pager) Prev() string {
	if p.Page <= 1 {
		return ""
	}
	return p.URL(min(p.Page-1, p.Pages()))
}

func (p pager) Next() string {
	if p.Page >= p.Pages() {
		return ""
	}
	return p.URL(p.Page + 1)
}

// pageOf searches and pages a list held in memory: the rows whose text
// (given by hay) contains p.Q without case, the page's share of them. It
// sets p.Total.
func pageOf[T any](items []T, p *pager, hay func(T) string) []T {
	q := strings.ToLower(p.Q)
	var match []T
	for _, it := range items {
		if q == "" || strings.Contains(strings.ToLower(hay(it)), q) {
			match = append(match, it)
		}
	}
	p.Total = len(match)
	p.clamp()
	if p.Offset() >= len(match) {
		return nil
	}
	return match[p.Offset():min(p.Offset()+p.Per, len(match))]
}
