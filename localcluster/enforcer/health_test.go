package enforcer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitHealthy(t *testing.T) {
	var calls atomic.Int32
	healthyOnThird := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	defer healthyOnThird.Close()
	if err := waitHealthy(context.Background(), Env{}, "felix", healthyOnThird.URL, time.Millisecond); err != nil || calls.Load() != 3 {
		t.Errorf("waitHealthy = %v after %d calls, want nil after 3", err, calls.Load())
	}

	never := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "datastore not ready", http.StatusServiceUnavailable)
	}))
	defer never.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := waitHealthy(ctx, Env{}, "felix", never.URL, time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "felix not ready") || !strings.Contains(err.Error(), "503 datastore not ready") {
		t.Errorf("waitHealthy on an endpoint that never turns healthy = %v", err)
	}
}
