package ui

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"
)

func TestPager(t *testing.T) {
	items := make([]string, 120)
	for i := range items {
		items[i] = "user" + strconv.Itoa(i+1)
	}
	tests := []struct {
		target                string
		first, last, total    int
		prev, next, firstItem string
		pages                 int
	}{
		{"/users", 1, 50, 120, "", "/users?page=2", "user1", 3},
		{"/users?page=2", 51, 100, 120, "/users", "/users?page=3", "user51", 3},
		{"/users?page=3", 101, 120, 120, "/users?page=2", "", "user101", 3},
		{"/users?page=0", 1, 50, 120, "", "/users?page=2", "user1", 3},
		{"/users?page=x", 1, 50, 120, "", "/users?page=2", "user1", 3},
		{"/users?page=-5", 1, 50, 120, "", "/users?page=2", "user1", 3},
		{"/users?page=-99999999999999999999", 1, 50, 120, "", "/users?page=2", "user1", 3},
		// A page past the end, even one too big for an int, shows the last.
		{"/users?page=4", 101, 120, 120, "/users?page=2", "", "user101", 3},
		{"/users?page=9223372036854775807", 101, 120, 120, "/users?page=2", "", "user101", 3},
		{"/users?page=99999999999999999999", 101, 120, 120, "/users?page=2", "", "user101", 3},
		// user1, user10-user19, user100-user120: 32, searched without case.
		{"/users?q=USER1", 1, 32, 32, "", "", "user1", 1},
		{"/users?q=nobody", 0, 0, 0, "", "", "", 1},
	}
	for _, tt := range tests {
		p := pagerFor(httptest.NewRequest("GET", tt.target, nil), "users")
		got := pageOf(items, &p, func(s string) string { return s })
		first := ""
		if len(got) > 0 {
			first = got[0]
		}
		if p.First() != tt.first || p.Last() != tt.last || p.Total != tt.total || p.Prev() != tt.prev || p.Next() != tt.next ||
			first != tt.firstItem || p.Pages() != tt.pages {
			t.Errorf("%s: rows %d-%d of %d, prev %q, next %q, first %q, pages %d", tt.target, p.First(), p.Last(), p.Total, p.Prev(), p.Next(), first, p.Pages())
		}
	}
	// A search and another filter stay on every page's link.
	p := pagerFor(httptest.NewRequest("GET", "/groups/ops?q=a%26b&page=2", nil), "members")
	p.Extra = map[string][]string{"add": {"x y"}}
	p.Total = 200
	if got := p.Next(); got != "/groups/ops?add=x+y&page=3&q=a%26b" {
		t.Errorf("next with a search: %q", got)
	}
	if got := pageOf([]string{"a"}, &pager{Page: 5, Per: 50}, func(s string) string { return s }); !slices.Equal(got, []string{"a"}) {
		t.Errorf("a page past the end shows %q, not the last page", got)
	}
	// Offsets of the largest page do not overflow.
	big := pagerFor(httptest.NewRequest("GET", "/users?page=9223372036854775807", nil), "users")
	if big.Offset() < 0 || big.Offset()+big.Per < 0 {
		t.Errorf("page %d: offset %d overflows", big.Page, big.Offset())
	}
}

// A feed's page shows perPage rows of the one more it read, links the
// older page only when that one more exists, and the newest only away
// from it, keeping the query.
func TestFeedPage(t *testing.T) {
	ids := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(100 - i) // newest first
		}
		return out
	}
	form := url.Values{"q": {"a b"}}
	tests := []struct {
		name          string
		rows          int
		before        int64
		shown         int
		older, newest string
	}{
		{name: "fewer than a page", rows: 2, shown: 2},
		{name: "exactly a page", rows: 3, shown: 3},
		{name: "more than a page", rows: 4, shown: 3, older: "/x?before=98&q=a+b"},
		{name: "an older page", rows: 4, before: 101, shown: 3, older: "/x?before=98&q=a+b", newest: "/x?q=a+b"},
		{name: "an empty older page", rows: 0, before: 5, shown: 0, newest: "/x?q=a+b"},
	}
	for _, tt := range tests {
		page, older, newest := feedPage(ids(tt.rows), 3, func(id int64) int64 { return id }, "/x", form, tt.before)
		if len(page) != tt.shown || older != tt.older || newest != tt.newest {
			t.Errorf("%s: %d rows, older %q, newest %q; want %d, %q, %q", tt.name, len(page), older, newest, tt.shown, tt.older, tt.newest)
		}
	}
}
