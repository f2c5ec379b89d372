package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"sync/atomic"
	"time"
)

// client calls Herald's API with an API token of the admin.
type client struct {
	base  string
	token string
	hc    *http.Client
}

// newClient logs in as admin (POST /api/v1/auth, session cookie) and makes
// an API token (POST /api/v1/user/admin/api_token) for every later call.
func newClient(base string) (*client, error) {
	jar, _ := cookiejar.New(nil)
	c := &client{base: base, hc: &http.Client{
		Jar:     jar,
		Timeout: time.Minute,
		Transport: &http.Transport{
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     time.Minute,
		},
	}}
	if err := c.call("POST", "/api/v1/auth", map[string]string{"username": "admin", "password": adminPassword}, http.StatusOK, nil); err != nil {
		return nil, fmt.Errorf("log in as admin: %w", err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := c.call("POST", "/api/v1/user/admin/api_token", map[string]string{"name": "herald-bench"}, http.StatusCreated, &tok); err != nil {
		return nil, fmt.Errorf("make an API token: %w", err)
	}
	c.token = tok.Token
	c.hc.Jar = nil
	return c, nil
}

// call sends a JSON request and expects the status want; out, if not nil,
// receives the JSON answer.
func (c *client) call(method, path string, body any, want int, out any) error {
	j, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, bytes.NewReader(j))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// createWebhook subscribes url to every user event, sent with POST.
func (c *client) createWebhook(url, description string) error {
	return c.createWebhookWith(url, description, nil)
}

// createWebhookWith is createWebhook with extra fields (filters).
func (c *client) createWebhookWith(url, description string, extra map[string]any) error {
	body := map[string]any{
		"url": url, "description": description, "enabled": true, "method": "POST",
		"on_user_created": true, "on_user_modified": true, "on_user_deleted": true, "on_hwkey_provision": true,
	}
	for k, v := range extra {
		body[k] = v
	}
	return c.call("POST", "/api/v1/webhook", body, http.StatusCreated, nil)
}

// createUser creates one user, which fires user_created to every webhook.
func (c *client) createUser(username string) error {
	return c.call("POST", "/api/v1/user", map[string]string{
		"username": username, "first_name": "Bench", "last_name": "User " + username,
		"email": username + "@bench.example.com",
	}, http.StatusCreated, nil)
}

// username is the name of user i of a scenario.
func username(prefix string, i int) string { return fmt.Sprintf("%s%07d", prefix, i) }

// createUsers creates n users with the given number of concurrent clients,
// as fast as Herald answers, and returns how long it took. progress, if
// not nil, is called about every 5 s with the number created so far.
func (c *client) createUsers(prefix string, n, concurrency int, progress func(done int)) (time.Duration, error) {
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var failed atomic.Bool
	start := time.Now()
	stopProgress := make(chan struct{})
	if progress != nil {
		go func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					progress(int(done.Load()))
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := c.createUser(username(prefix, i)); err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	return time.Since(start), firstErr
}
