package agent

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClusterDomain(t *testing.T) {
	tests := []struct {
		name, conf, want string
	}{
		{"kubelet's search list", "search x.svc.example.org svc.example.org example.org\nnameserver 10.96.0.10\noptions ndots:5\n", "example.org"},
		{"default domain", "nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local\n", "cluster.local"},
		{"no search list", "nameserver 10.96.0.10\n", "cluster.local"},
		{"not a pod's", "search corp.example\n", "cluster.local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "resolv.conf")
			if err := os.WriteFile(path, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			old := resolvConf
			resolvConf = path
			defer func() { resolvConf = old }()
			if got := clusterDomain(); got != tt.want {
				t.Errorf("clusterDomain = %q, want %q", got, tt.want)
			}
		})
	}
}

// dnsServer answers, over UDP, only an A query for the kubernetes Service
// (what the cluster DNS answers itself), after dropping the first drop
// queries as a lossy path would. It returns its address.
func dnsServer(t *testing.T, drop int) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	want := []byte("\x0akubernetes\x07default\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01")
	go func() {
		buf := make([]byte, 512)
		for seen := 0; ; seen++ {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if seen < drop || !bytes.HasSuffix(buf[:n], want) {
				continue
			}
			reply := append([]byte{}, buf[:n]...)
			reply[2], reply[3] = 0x81, 0x80 // a response, no error
			reply[7] = 1                    // one answer: the Service's address
			reply = append(reply, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 96, 0, 1)
			_, _ = pc.WriteTo(reply, addr)
		}
	}()
	return pc.LocalAddr().String()
}

func TestDNSProbe(t *testing.T) {
	old := resolvConf
	resolvConf = filepath.Join(t.TempDir(), "none") // cluster.local
	defer func() { resolvConf = old }()
	for _, tt := range []struct {
		name string
		drop int
		want Outcome
	}{
		{"answered", 0, Allowed},
		{"first query lost, the retry answered", 1, Allowed},
		{"every query dropped", dnsAttempts, DeniedTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			host, port, _ := net.SplitHostPort(dnsServer(t, tt.drop))
			target, err := ParseTarget(host + ":" + port + "/UDP/dns")
			if err != nil {
				t.Fatal(err)
			}
			r := Probe(context.Background(), target, 900*time.Millisecond)
			if r.Outcome != tt.want {
				t.Fatalf("outcome %s (%s), want %s", r.Outcome, r.Detail, tt.want)
			}
			if tt.want == Allowed && r.Reply != "NOERROR A 10.96.0.1" {
				t.Errorf("reply %q, want the answer decoded: NOERROR A 10.96.0.1", r.Reply)
			}
			if tt.want == DeniedTimeout && !strings.Contains(r.Detail, "DNS queries unanswered") {
				t.Errorf("detail %q does not say the queries went unanswered", r.Detail)
			}
		})
	}
}
