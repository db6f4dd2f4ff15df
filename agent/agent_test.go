package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
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
	go func() { done <- Serve(ctx, []int{port}, "ns-a/pod-b") }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
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
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The server is gone: the port refuses.
	if r := Probe(context.Background(), addr, time.Second); r.Outcome != DeniedRefused {
		t.Errorf("probe of a closed port = %+v, want %s", r, DeniedRefused)
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
	r := Probe(context.Background(), l.Addr().String(), 200*time.Millisecond)
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

func TestProbeInvalidAddress(t *testing.T) {
	if r := Probe(context.Background(), "no-port", time.Second); r.Outcome != Error {
		t.Errorf("got %+v, want %s", r, Error)
	}
}
