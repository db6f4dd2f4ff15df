package enforcer

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// waitHealthy polls an enforcer's health endpoint every interval until it
// answers 200 OK, and otherwise says what it last answered. The endpoint is
// reached as the enforcer's node would reach it (env.Dial).
func waitHealthy(ctx context.Context, env Env, what, url string, interval time.Duration) error {
	client := http.DefaultClient
	if env.Dial != nil {
		client = &http.Client{Transport: &http.Transport{DialContext: env.Dial}}
	}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
		} else if ctx.Err() == nil || last == "" {
			// A request cut short by the deadline says less than the
			// answer before it.
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %s: %w", what, last, ctx.Err())
		case <-time.After(interval):
		}
	}
}
