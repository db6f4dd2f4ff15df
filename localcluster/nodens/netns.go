package nodens

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// InNetNS runs f on a thread that has joined the network namespace pinned
// at pin, then returns the thread to the caller's. Unlike a mount
// namespace, a network namespace can be joined by one thread of a Go
// program: sockets f creates stay in the namespace they were made in.
func InNetNS(pin string, f func() error) error {
	target, err := os.Open(pin)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", pin, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		// The goroutine keeps its thread locked to the end: should the
		// way back fail, the thread dies with it instead of running
		// other goroutines in the node's namespace.
		runtime.LockOSThread()
		own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- fmt.Errorf("opening this thread's network namespace: %w", err)
			return
		}
		defer own.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("joining network namespace %s: %w", pin, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("leaving network namespace %s: %w", pin, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// DialContext connects to addr from inside the node's network namespace,
// where its components listen on the node's own loopback: the harness
// checks their health from the host without putting their ports on the
// fabric.
//
// Only an IP literal is dialed: name resolution and the dual-stack racer
// run on other goroutines, hence other threads, in the host's namespace.
func (n Node) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return nil, fmt.Errorf("dialing %s in node %s: only an IP address can be dialed inside a node", addr, n.Name)
	}
	var conn net.Conn
	err = InNetNS(n.Pin("net"), func() error {
		d := net.Dialer{FallbackDelay: -1}
		var err error
		conn, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil && conn != nil {
		conn.Close()
		conn = nil
	}
	return conn, err
}

// PortFree fails if something in the node's network namespace listens on
// the TCP address.
func PortFree(pin, addr string) error {
	return InNetNS(pin, func() error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("port %s is already in use in network namespace %s: %w", addr, pin, err)
		}
		return l.Close()
	})
}
