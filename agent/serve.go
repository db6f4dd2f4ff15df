package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"time"
)

// Serve answers on every port and protocol with identity and a newline,
// until ctx is done. SCTP is served only where the kernel has it: a kernel
// without SCTP is logged once and skipped, never fatal, because the suite
// then skips SCTP cases with that reason.
func Serve(ctx context.Context, ports []int, protocols []string, identity string) error {
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	var wg sync.WaitGroup
	reply := []byte(identity + "\n")
	for _, proto := range protocols {
		for _, port := range ports {
			addr := ":" + strconv.Itoa(port)
			switch proto {
			case TCP:
				l, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
				if err != nil {
					closeAll()
					return fmt.Errorf("listening on %d/TCP: %w", port, err)
				}
				closers = append(closers, l)
				wg.Add(1)
				go func() { defer wg.Done(); acceptLoop(l, reply) }()
			case UDP:
				pc, err := new(net.ListenConfig).ListenPacket(ctx, "udp", addr)
				if err != nil {
					closeAll()
					return fmt.Errorf("listening on %d/UDP: %w", port, err)
				}
				closers = append(closers, pc)
				wg.Add(1)
				go func() { defer wg.Done(); echoIdentity(pc, reply) }()
			case SCTP:
				l, err := listenSCTP(port)
				if errors.Is(err, errSCTPUnsupported) {
					log.Printf("not serving %d/SCTP: %v", port, err)
					continue
				}
				if err != nil {
					closeAll()
					return fmt.Errorf("listening on %d/SCTP: %w", port, err)
				}
				closers = append(closers, l)
				wg.Add(1)
				go func() { defer wg.Done(); acceptLoop(l, reply) }()
			default:
				closeAll()
				return fmt.Errorf("protocol %q: want TCP, UDP or SCTP", proto)
			}
		}
	}
	<-ctx.Done()
	closeAll()
	wg.Wait()
	return nil
}

// acceptLoop serves until the listener is closed. Any other accept error
// (out of file descriptors, a connection reset before accept) is
// transient: a loop that stopped on it would leave a Ready pod that
// answers nothing, and every probe to it would read as a denial.
func acceptLoop(l net.Listener, reply []byte) {
	backoff := 5 * time.Millisecond
	for {
		conn, err := l.Accept()
		if errors.Is(err, net.ErrClosed) {
			return // closed on shutdown
		}
		if err != nil {
			log.Printf("accept on %s: %v (retrying)", l.Addr(), err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		go func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = conn.Write(reply)
		}()
	}
}

func echoIdentity(pc net.PacketConn, reply []byte) {
	buf := make([]byte, 512)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		_, _ = pc.WriteTo(reply, from)
	}
}
