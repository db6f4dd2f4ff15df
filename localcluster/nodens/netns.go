package nodens

import (
	"context"
	"fmt"
	"net"
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
func (n Node) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := InNetNS(n.Pin("net"), func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, network, addr)
		return err
	})
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
