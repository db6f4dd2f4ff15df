// Package progress reports a running suite's progress to Sonobuoy, so that
// `sonobuoy status` shows how many specs passed and which failed while the
// plugin still runs.
//
// Sonobuoy's worker container listens on localhost:$SONOBUOY_PROGRESS_PORT
// (8099 unless configured) in the plugin's pod and relays every JSON document
// POSTed to /progress to the aggregator. Each update replaces the previous
// one, so every update carries the whole picture. Sonobuoy renders it as
// "Passed: completed, Failed: len(failures), Remaining: total - completed -
// len(failures)": completed therefore counts passed specs only.
package progress

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

const (
	// PortEnv names the variable Sonobuoy sets in every plugin container to
	// the port its worker listens on for progress updates.
	PortEnv = "SONOBUOY_PROGRESS_PORT"
	// DefaultPort is Sonobuoy's default progress port.
	DefaultPort = "8099"
)

// Update is one progress document in the shape Sonobuoy's worker accepts.
type Update struct {
	// Msg is a free-form line shown by `sonobuoy status --json`.
	Msg string `json:"msg"`
	// Total is the number of specs the run will execute.
	Total int64 `json:"total"`
	// Completed is the number of specs that passed.
	Completed int64 `json:"completed"`
	// Failures names the specs that failed.
	Failures []string `json:"failures,omitempty"`
}

// Client posts updates to a Sonobuoy worker.
type Client struct {
	// URL is the worker's progress endpoint.
	URL string
	// HTTP is the client used; a nil HTTP uses one with a short timeout so a
	// missing worker never stalls the suite.
	HTTP *http.Client
}

// FromEnv returns a client for the worker of this pod, and whether the
// process runs under Sonobuoy at all (PortEnv is set). A suite run by hand
// has no worker to talk to and should not report progress.
func FromEnv() (*Client, bool) {
	port, set := os.LookupEnv(PortEnv)
	if port == "" {
		port = DefaultPort
	}
	return &Client{URL: "http://localhost:" + port + "/progress"}, set
}

// Post sends one update. Progress is advisory: callers log the error and go on.
func (c *Client) Post(ctx context.Context, u Update) error {
	body, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encoding progress update: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("progress request to %s: %w", c.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("posting progress to %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("posting progress to %s: %s: %s", c.URL, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Tracker accumulates spec outcomes and posts the running totals after each
// one. It is safe for concurrent use (Ginkgo reports from one goroutine, but
// parallel suites report from several processes' reporters).
type Tracker struct {
	client *Client

	mu       sync.Mutex
	total    int64
	passed   int64
	failures []string
}

// NewTracker returns a tracker that will report against total specs.
func NewTracker(c *Client, total int) *Tracker {
	return &Tracker{client: c, total: int64(total)}
}

// Passed records a passed spec and posts the totals.
func (t *Tracker) Passed(ctx context.Context, name string) error {
	return t.record(ctx, name, outcomePassed)
}

// Failed records a failed spec and posts the totals.
func (t *Tracker) Failed(ctx context.Context, name string) error {
	return t.record(ctx, name, outcomeFailed)
}

// Skipped records a spec skipped at run time (an SCTP case on a kernel
// without SCTP, say). Sonobuoy has no field for skips and computes
// "Remaining" as total - completed - failures, so a skipped spec leaves the
// total instead; the message names it.
func (t *Tracker) Skipped(ctx context.Context, name string) error {
	return t.record(ctx, name, outcomeSkipped)
}

type outcome string

const (
	outcomePassed  outcome = "passed"
	outcomeFailed  outcome = "failed"
	outcomeSkipped outcome = "skipped"
)

func (t *Tracker) record(ctx context.Context, name string, o outcome) error {
	// The lock is held across the POST: each update replaces the previous
	// one in Sonobuoy, so updates must arrive in the order they were counted.
	t.mu.Lock()
	defer t.mu.Unlock()
	switch o {
	case outcomePassed:
		t.passed++
	case outcomeFailed:
		t.failures = append(t.failures, name)
	case outcomeSkipped:
		if t.total > 0 {
			t.total--
		}
	}
	return t.client.Post(ctx, Update{
		Msg:       fmt.Sprintf("%s: %s", o, name),
		Total:     t.total,
		Completed: t.passed,
		Failures:  append([]string(nil), t.failures...),
	})
}
