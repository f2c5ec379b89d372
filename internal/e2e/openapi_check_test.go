package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// requestInvalid marks a request the server refuses that the document
// must refuse as well.
func requestInvalid(o *specCallOpts) { o.invalid = true }

// specHeader sets a request header (after Content-Type, so it may replace it).
func specHeader(k, v string) specOpt {
	return func(o *specCallOpts) {
		if o.header == nil {
			o.header = map[string]string{}
		}
		o.header[k] = v
	}
}

// call sends one request as c, fails the test unless the status is want,
// decodes a JSON answer into out (if not nil), and checks the request and
// the answer against the document; name says which call failed.
func (sc *specChecker) call(name string, c *client, want int, method, path string, body, out any, opts ...specOpt) response {
	t := sc.t
	t.Helper()
	var o specCallOpts
	for _, f := range opts {
		f(&o)
	}
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	newRequest := func() *http.Request {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(data)
		}
		req, err := http.NewRequest(method, c.base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range c.header {
			req.Header[k] = v
		}
		for k, v := range o.header {
			req.Header.Set(k, v)
		}
		if c.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
		return req
	}

	// The copy that is checked gets the cookies the client will add.
	checked := newRequest()
	if c.http.Jar != nil {
		for _, ck := range c.http.Jar.Cookies(checked.URL) {
			checked.AddCookie(ck)
		}
	}
	resp, err := c.http.Do(newRequest())
	if err != nil {
		t.Fatalf("%s: %s %s: %v", name, method, path, err)
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: %s %s: read the answer: %v", name, method, path, err)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: respBody}
	label := fmt.Sprintf("%s (%s %s)", name, method, shortPath(path))
	if r.Status != want {
		t.Fatalf("%s: status %d, want %d; body: %s", label, r.Status, want, clip(respBody))
	}
	if out != nil {
		if err := json.Unmarshal(respBody, out); err != nil {
			t.Fatalf("%s: decode %s: %v", label, clip(respBody), err)
		}
	}
	sc.calls++

	route, params, err := sc.router.FindRoute(checked)
	if err != nil {
		t.Errorf("%s: no operation in openapi.json: %v", label, err)
		return r
	}
	sc.seen[route.Method+" "+route.Path] = append(sc.seen[route.Method+" "+route.Path], r.Status)
	in := &openapi3filter.RequestValidationInput{Request: checked, PathParams: params, Route: route, Options: sc.opts}
	reqErr := openapi3filter.ValidateRequest(sc.ctx, in)
	switch {
	case o.invalid && reqErr == nil:
		t.Errorf("%s: the server refused the request (%d %s) but openapi.json accepts it", label, r.Status, clip(respBody))
	case !o.invalid && reqErr != nil:
		t.Errorf("%s: the request does not match openapi.json: %v", label, reqErr)
	}
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.Status, Header: r.Header, Options: sc.opts}
	rin.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(sc.ctx, rin); err != nil {
		t.Errorf("%s: the %d answer does not match openapi.json: %v\nbody: %s", label, r.Status, err, clip(respBody))
	}
	return r
}

// specAuthenticate satisfies a security scheme when the request carries
// its kind of credential: the session cookie, or a bearer token of the
// right kind (station tokens start with hrldw_, API tokens with hrld_).
// Whether the credential is good is for the server to say (401).
func specAuthenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	scheme := in.SecurityScheme
	switch {
	case scheme.Type == "apiKey" && scheme.In == "cookie":
		if _, err := r.Cookie(scheme.Name); err != nil {
			return fmt.Errorf("no %s cookie", scheme.Name)
		}
		return nil
	case scheme.Type == "http" && strings.EqualFold(scheme.Scheme, "bearer"):
		kind, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(kind, "Bearer") || token == "" {
			return fmt.Errorf("no bearer token")
		}
		station := strings.HasPrefix(token, "hrldw_")
		if (in.SecuritySchemeName == "stationToken") != station {
			return fmt.Errorf("%s: wrong kind of bearer token", in.SecuritySchemeName)
		}
		return nil
	}
	return fmt.Errorf("security scheme %q is not understood by the test", in.SecuritySchemeName)
}

func shortPath(p string) string {
	if u, err := url.Parse(p); err == nil && len(u.RawQuery) > 60 {
		return u.Path + "?" + u.RawQuery[:60] + "..."
	}
	return p
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
