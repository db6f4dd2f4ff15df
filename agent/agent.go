// Package agent is the small program that runs inside test pods: Serve
// answers TCP connections with the pod's identity, Probe makes one TCP
// connection and classifies what happened. Probe reports an outcome, never a
// verdict: whether "denied" was expected is the caller's business.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Outcome of one probe.
type Outcome string

const (
	// Allowed: connected and read the peer's identity line.
	Allowed Outcome = "allowed"
	// DeniedTimeout: no answer within the timeout (a DROP, or nobody there).
	DeniedTimeout Outcome = "denied-timeout"
	// DeniedRefused: actively refused (an ICMP or TCP reset, e.g. REJECT).
	DeniedRefused Outcome = "denied-refused"
	// Error: the probe itself could not run; never to be read as "blocked".
	Error Outcome = "error"
)

// Result is what Probe prints as one JSON line.
type Result struct {
	To        string  `json:"to"`
	Outcome   Outcome `json:"outcome"`
	ElapsedMS int64   `json:"elapsedMs"`
	// Reply is the identity the server answered with, when allowed.
	Reply string `json:"reply,omitempty"`
	// Detail is the underlying error for anything but allowed.
	Detail string `json:"detail,omitempty"`
}

// Identity is the line Serve answers with: "namespace/name".
func Identity() string {
	return os.Getenv("POD_NAMESPACE") + "/" + os.Getenv("POD_NAME")
}

// Serve listens on every port and answers each connection with identity and
// a newline, until ctx is done.
func Serve(ctx context.Context, ports []int, identity string) error {
	var lc net.ListenConfig
	var listeners []net.Listener
	for _, p := range ports {
		l, err := lc.Listen(ctx, "tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("listening on TCP port %d: %w", p, err)
		}
		listeners = append(listeners, l)
	}
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Add(1)
		go func(l net.Listener) {
			defer wg.Done()
			for {
				conn, err := l.Accept()
				if err != nil {
					return // closed on shutdown
				}
				go func() {
					defer conn.Close()
					_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
					_, _ = io.WriteString(conn, identity+"\n")
				}()
			}
		}(l)
	}
	<-ctx.Done()
	for _, l := range listeners {
		l.Close()
	}
	wg.Wait()
	return nil
}

// Probe connects to addr over TCP, reads the identity line and classifies
// the result. The whole probe, connect and read, is bounded by timeout.
func Probe(ctx context.Context, addr string, timeout time.Duration) Result {
	r := Result{To: addr}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		r.Outcome, r.Detail = Error, fmt.Sprintf("invalid address: %v", err)
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		r.ElapsedMS = time.Since(start).Milliseconds()
		r.Outcome, r.Detail = classify(err), err.Error()
		return r
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	r.ElapsedMS = time.Since(start).Milliseconds()
	if n > 0 {
		r.Outcome, r.Reply = Allowed, strings.TrimSpace(string(buf[:n]))
		return r
	}
	// Connected but no reply: the policy let the SYN through yet something
	// broke afterwards; that is not a clean verdict either way.
	r.Outcome, r.Detail = Error, fmt.Sprintf("connected but read nothing: %v", err)
	return r
}

// classify maps a dial error to an outcome.
func classify(err error) Outcome {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return DeniedRefused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return DeniedTimeout
	default:
		return Error
	}
}
