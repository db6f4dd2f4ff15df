package localcluster

import (
	"encoding/json"
	"testing"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name, status, want string
	}{
		{"aggregator only", `{"status":"running","plugins":[]}`, "run running, plugin not started yet"},
		{"no progress yet", `{"status":"running","plugins":[{"plugin":"netpol-conformance","status":"running"}]}`, "plugin running"},
		{"the plugin's message", `{"status":"running","plugins":[{"plugin":"netpol-conformance","status":"running",
			"progress":{"total":104,"completed":37,"failures":["a","b"],"msg":"39 of 104 cases done, 2 failing, 0 skipped; last: x pass"}}]}`,
			"plugin running: 39 of 104 cases done, 2 failing, 0 skipped; last: x pass"},
		{"counts only", `{"status":"running","plugins":[{"plugin":"netpol-conformance","status":"running",
			"progress":{"total":104,"completed":37,"failures":["a","b"]}}]}`,
			"plugin running: 39 of 104 cases done, 2 failed"},
		{"done", `{"status":"complete","plugins":[{"plugin":"netpol-conformance","status":"complete","result-status":"failed"}]}`,
			"plugin complete, result failed"},
		{"another plugin", `{"status":"running","plugins":[{"plugin":"e2e","status":"running"}]}`, "run running, plugin not started yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st sonobuoyStatus
			if err := json.Unmarshal([]byte(tt.status), &st); err != nil {
				t.Fatal(err)
			}
			if got := progressLine(st); got != tt.want {
				t.Errorf("progressLine = %q, want %q", got, tt.want)
			}
		})
	}
}
