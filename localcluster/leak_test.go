package localcluster

import (
	"slices"
	"strings"
	"testing"
)

func TestLeakMatch(t *testing.T) {
	tests := []struct {
		name    string
		leak    Leak
		want    string // the rule's match up to the conntrack part
		wantErr string
	}{
		{"every pod flow", Leak{Percent: 10}, "-s 10.244.0.0/16 -d 10.244.0.0/16", ""},
		{"one cell", Leak{Percent: 50, From: "10.244.0.5", To: "10.244.0.7", Port: 80, Protocol: "TCP"}, "-s 10.244.0.5 -d 10.244.0.7 -p tcp --dport 80", ""},
		{"outside the cluster", Leak{Percent: 10, To: "192.0.2.1"}, "", "not a pod address"},
		{"not an address", Leak{Percent: 10, From: "x/a"}, "", "not a pod address"},
		{"percent too high", Leak{Percent: 101}, "", "between 0 and 100"},
		{"port without protocol", Leak{Percent: 10, Port: 80}, "", "TCP or UDP"},
		{"SCTP", Leak{Percent: 10, Port: 80, Protocol: "SCTP"}, "", "TCP or UDP"},
		{"port out of range", Leak{Percent: 10, Port: 70000, Protocol: "udp"}, "", "1 to 65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.leak.iptablesMatch()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(got, " ")
			if !strings.HasPrefix(joined, tt.want+" -m conntrack --ctstate NEW") {
				t.Errorf("match %q does not start with %q and the NEW-flows match", joined, tt.want)
			}
			if !slices.Contains(got, leakComment) || got[len(got)-1] != "ACCEPT" {
				t.Errorf("match %q lacks the leak's comment or its accept", joined)
			}
		})
	}
}

func TestLeakProbability(t *testing.T) {
	got, err := Leak{Percent: 7}.iptablesMatch()
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.Index(got, "--probability"); i < 0 || got[i+1] != "0.07" {
		t.Errorf("7%% leak: %v", got)
	}
}

func TestShellFields(t *testing.T) {
	line := `-s 10.244.0.5/32 -m comment --comment "netpol-conformance injected leak" -j ACCEPT`
	want := []string{"-s", "10.244.0.5/32", "-m", "comment", "--comment", leakComment, "-j", "ACCEPT"}
	if got := shellFields(line); !slices.Equal(got, want) {
		t.Errorf("shellFields = %q, want %q", got, want)
	}
}
