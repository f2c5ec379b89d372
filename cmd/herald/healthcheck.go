package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheck asks the server on addr whether it is ready, for container
// health checks on images without curl: exit status 0 when GET
// /api/v1/ready answers 200, else non-zero with a one-line reason.
func healthcheck(ctx context.Context, args []string) error {
	// A server that does not answer in time is not healthy.
	var timeout time.Duration
	cfg, rest, err := parseCommand("healthcheck", "", args, func(fs *flag.FlagSet) {
		fs.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected argument %q", rest[0])
	}
	hostPort, err := dialAddr(cfg.Addr)
	if err != nil {
		return err
	}
	url := "http://" + hostPort + "/api/v1/ready"
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// The server is local: never through HTTP_PROXY, which may be set for
	// the webhooks.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s answered %s%s", url, resp.Status, reason(body))
	}
	fmt.Printf("ready: %s answered 200\n", url)
	return nil
}

// dialAddr turns a listening address into one to connect to: a server
// listening on every interface (0.0.0.0, ::, or no host) is reached on
// loopback.
func dialAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("addr %q is not host:port: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// reason is the {"msg"} of an error answer, on one line.
func reason(body []byte) string {
	var e struct {
		Msg string `json:"msg"`
	}
	if json.Unmarshal(body, &e) != nil || e.Msg == "" {
		return ""
	}
	return ": " + strings.Join(strings.Fields(e.Msg), " ")
}
