package progress

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// worker stands in for Sonobuoy's worker: it records every document POSTed
// to /progress, decoded as generic JSON so the test checks the wire names
// Sonobuoy reads, not our struct tags against themselves.
type worker struct {
	mu      sync.Mutex
	updates []map[string]any
	status  int
}

func (w *worker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/progress" {
		http.Error(rw, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	var doc map[string]any
	if err := json.NewDecoder(r.Body).Decode(&doc); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.updates = append(w.updates, doc)
	status := w.status
	w.mu.Unlock()
	if status != 0 {
		http.Error(rw, "worker says no", status)
	}
}

func TestTrackerPostsRunningTotals(t *testing.T) {
	w := &worker{}
	srv := httptest.NewServer(w)
	defer srv.Close()
	tr := NewTracker(&Client{URL: srv.URL + "/progress"}, 4)
	ctx := context.Background()
	for _, step := range []struct {
		name string
		rec  func(context.Context, string) error
	}{
		{"deny-all-ingress-in-x", tr.Passed},
		{"and-vs-or-one-peer", tr.Failed},
		{"sctp-port-80", tr.Skipped},
		{"egress-to-ipblock", tr.Passed},
	} {
		if err := step.rec(ctx, step.name); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	want := []map[string]any{
		{"msg": "passed: deny-all-ingress-in-x", "total": 4.0, "completed": 1.0},
		{"msg": "failed: and-vs-or-one-peer", "total": 4.0, "completed": 1.0, "failures": []any{"and-vs-or-one-peer"}},
		{"msg": "skipped: sctp-port-80", "total": 3.0, "completed": 1.0, "failures": []any{"and-vs-or-one-peer"}},
		{"msg": "passed: egress-to-ipblock", "total": 3.0, "completed": 2.0, "failures": []any{"and-vs-or-one-peer"}},
	}
	if !reflect.DeepEqual(w.updates, want) {
		t.Errorf("updates the worker received:\n got %v\nwant %v", w.updates, want)
	}
}

func TestPostReportsWorkerErrors(t *testing.T) {
	w := &worker{status: http.StatusInternalServerError}
	srv := httptest.NewServer(w)
	defer srv.Close()
	err := (&Client{URL: srv.URL + "/progress"}).Post(context.Background(), Update{Msg: "x"})
	if err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "worker says no") {
		t.Errorf("Post to a failing worker: got %v, want an error with the status and the worker's message", err)
	}
}

func TestPostWithoutWorker(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/progress"
	srv.Close() // nothing listens any more: a suite run outside Sonobuoy
	if err := (&Client{URL: url}).Post(context.Background(), Update{}); err == nil {
		t.Error("Post with nothing listening: got nil error")
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(PortEnv, "9123")
	c, ok := FromEnv()
	if !ok || c.URL != "http://localhost:9123/progress" {
		t.Errorf("FromEnv with %s=9123: got %q, %v", PortEnv, c.URL, ok)
	}
	t.Setenv(PortEnv, "")
	if c, _ := FromEnv(); c.URL != "http://localhost:8099/progress" {
		t.Errorf("FromEnv with an empty port: got %q, want the default port 8099", c.URL)
	}
}
