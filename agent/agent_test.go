package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestServeAndProbe(t *testing.T) {
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, []int{port}, []string{TCP, UDP}, "ns-a/pod-b") }()
	addr := Target{Host: "127.0.0.1", Port: port, Protocol: TCP}
	udp := Target{Host: "127.0.0.1", Port: port, Protocol: UDP}
	var r Result
	for i := 0; i < 50; i++ {
		if r = Probe(context.Background(), addr, time.Second); r.Outcome == Allowed {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Outcome != Allowed || r.Reply != "ns-a/pod-b" {
		t.Fatalf("probe = %+v, want allowed with reply ns-a/pod-b", r)
	}
	if r := Probe(context.Background(), udp, time.Second); r.Outcome != Allowed || r.Reply != "ns-a/pod-b" {
		t.Fatalf("UDP probe = %+v, want allowed with reply ns-a/pod-b", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The server is gone: the port refuses.
	if r := Probe(context.Background(), addr, time.Second); r.Outcome != DeniedRefused {
		t.Errorf("probe of a closed port = %+v, want %s", r, DeniedRefused)
	}
	// A closed UDP port answers with ICMP port unreachable.
	if r := Probe(context.Background(), udp, time.Second); r.Outcome != DeniedRefused {
		t.Errorf("UDP probe of a closed port = %+v, want %s", r, DeniedRefused)
	}
}

func TestProbeConnectedButSilentIsAnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			time.Sleep(500 * time.Millisecond)
			c.Close()
		}
	}()
	target, err := ParseTarget(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := Probe(context.Background(), target, 200*time.Millisecond)
	if r.Outcome != Error {
		t.Errorf("got %+v, want %s: a silent peer is no verdict", r, Error)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Outcome
	}{
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, DeniedRefused},
		{"host unreachable (REJECT icmp-host-unreachable)", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, DeniedRefused},
		{"deadline", fmt.Errorf("dial: %w", context.DeadlineExceeded), DeniedTimeout},
		{"other", errors.New("no such host"), Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Errorf("classify(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    Target
		wantErr string
	}{
		{"10.0.0.1:80", Target{Host: "10.0.0.1", Port: 80, Protocol: TCP}, ""},
		{"10.0.0.1:81/udp", Target{Host: "10.0.0.1", Port: 81, Protocol: UDP}, ""},
		{"[fd00::1]:80/SCTP", Target{Host: "fd00::1", Port: 80, Protocol: SCTP}, ""},
		{"no-port", Target{}, "missing port"},
		{"10.0.0.1:0", Target{}, "not a number from 1 to 65535"},
		{"10.0.0.1:80/ICMP", Target{}, "not TCP, UDP or SCTP"},
	}
	for _, tc := range tests {
		got, err := ParseTarget(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTarget(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestProbeAllKeepsOrderAndRunsConcurrently probes ten silent UDP targets
// with a 300 ms timeout: serially that is 3 s, concurrently about 0.3 s.
func TestProbeAllKeepsOrderAndRunsConcurrently(t *testing.T) {
	var targets []Target
	for i := 0; i < 10; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close() // open but silent: the probe times out
		targets = append(targets, Target{Host: "127.0.0.1", Port: pc.LocalAddr().(*net.UDPAddr).Port, Protocol: UDP})
	}
	start := time.Now()
	results := ProbeAll(context.Background(), targets, 300*time.Millisecond, 16, 0)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("ProbeAll took %v: probes did not run concurrently", elapsed)
	}
	for i, r := range results {
		if r.To != targets[i].String() || r.Outcome != DeniedTimeout {
			t.Errorf("result %d = %+v, want %s %s", i, r, targets[i], DeniedTimeout)
		}
	}
}

func TestSCTPWithoutKernelSupportIsAnError(t *testing.T) {
	if err := SCTPSupported(); err == nil {
		t.Skip("this kernel supports SCTP; the unsupported path cannot be exercised here")
	}
	r := Probe(context.Background(), Target{Host: "127.0.0.1", Port: 80, Protocol: SCTP}, time.Second)
	if r.Outcome != Error || !strings.Contains(r.Detail, "does not support SCTP") {
		t.Errorf("SCTP probe without kernel support = %+v, want %s naming the reason", r, Error)
	}
}

// TestProbeAllUsesTheGivenUDPSourcePorts checks that a pass's UDP probes
// leave from the ports it was given, so no probe reuses an earlier flow.
func TestProbeAllUsesTheGivenUDPSourcePorts(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	seen := make(chan int, 2)
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			seen <- from.(*net.UDPAddr).Port
			_, _ = pc.WriteTo([]byte("ns/pod\n"), from)
		}
	}()
	target := Target{Host: "127.0.0.1", Port: pc.LocalAddr().(*net.UDPAddr).Port, Protocol: UDP}
	base := 20000 + freePort(t)%10000
	results := ProbeAll(context.Background(), []Target{target, target}, time.Second, 2, base)
	for _, r := range results {
		if r.Outcome != Allowed {
			t.Fatalf("probe = %+v", r)
		}
	}
	got := map[int]bool{<-seen: true, <-seen: true}
	if !got[base] || !got[base+1] {
		t.Errorf("source ports %v, want %d and %d", got, base, base+1)
	}
}

// An answer from another pod than the one meant is an error, never a pass:
// a stale IP or a wrong Service endpoint says nothing about the policy.
func TestProbeChecksTheAnswersIdentity(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go acceptLoop(l, []byte("ns/other\n"))
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	for expect, want := range map[string]Outcome{"": Allowed, "ns/other": Allowed, "ns/meant": Error} {
		target, err := ParseTarget(fmt.Sprintf("127.0.0.1:%d/TCP@%s", port, expect))
		if expect == "" {
			target, err = ParseTarget(fmt.Sprintf("127.0.0.1:%d/TCP", port))
		}
		if err != nil {
			t.Fatal(err)
		}
		if r := Probe(ctx, target, time.Second); r.Outcome != want {
			t.Errorf("expecting %q: %s (%s), want %s", expect, r.Outcome, r.Detail, want)
		}
	}
	if _, err := ParseTarget("127.0.0.1:80/TCP@noslash"); err == nil {
		t.Error("an identity without namespace was accepted")
	}
}

// The accept loop outlives accept errors; only closing the listener ends it.
func TestAcceptLoopSurvivesErrors(t *testing.T) {
	fl := &flakyListener{fails: 3, conns: make(chan net.Conn, 1)}
	done := make(chan struct{})
	go func() { acceptLoop(fl, []byte("ns/a\n")); close(done) }()
	server, client := net.Pipe()
	fl.conns <- server
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, err := client.Read(buf)
	if err != nil || string(buf[:n]) != "ns/a\n" {
		t.Fatalf("after %d accept errors: read %q, %v", 3, buf[:n], err)
	}
	fl.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not end when the listener closed")
	}
}

type flakyListener struct {
	fails  int
	conns  chan net.Conn
	closed atomic.Bool
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if f.closed.Load() {
		return nil, net.ErrClosed
	}
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("accept4: too many open files")
	}
	select {
	case c := <-f.conns:
		return c, nil
	case <-time.After(50 * time.Millisecond):
		return nil, errors.New("accept4: resource temporarily unavailable")
	}
}
func (f *flakyListener) Close() error   { f.closed.Store(true); return nil }
func (f *flakyListener) Addr() net.Addr { return &net.TCPAddr{} }

// A target's flows are combined: allowed when any was answered (a leak),
// counted; denied only when none was.
func TestProbeAllCombinesFlows(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go acceptLoop(l, []byte("ns/a\n"))
	open := l.Addr().(*net.TCPAddr).Port
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	targets := []Target{
		{Host: "127.0.0.1", Port: open, Protocol: TCP, Flows: 10},
		{Host: "127.0.0.1", Port: closedPort, Protocol: TCP, Flows: 10},
		{Host: "127.0.0.1", Port: open, Protocol: TCP},
	}
	rs := ProbeAll(context.Background(), targets, time.Second, 100, 0)
	if rs[0].Outcome != Allowed || rs[0].Flows != 10 || rs[0].Answered != 10 {
		t.Errorf("open port: %+v", rs[0])
	}
	if rs[1].Outcome != DeniedRefused || rs[1].Flows != 10 || rs[1].Answered != 0 {
		t.Errorf("closed port: %+v", rs[1])
	}
	if rs[2].Outcome != Allowed || rs[2].Flows != 0 {
		t.Errorf("single flow: %+v", rs[2])
	}
	if got := combine([]Result{{Outcome: DeniedTimeout}, {Outcome: Allowed, Reply: "ns/a"}, {Outcome: DeniedTimeout}}); got.Outcome != Allowed || got.Answered != 1 {
		t.Errorf("one leaked flow of three: %+v", got)
	}
}
