package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/ishidawataru/sctp"
)

// errSCTPUnsupported marks a kernel without SCTP (CONFIG_IP_SCTP unset, as
// on the CI machine): the socket call fails with EPROTONOSUPPORT.
var errSCTPUnsupported = errors.New("the kernel does not support SCTP")

func sctpErr(err error) error {
	if errors.Is(err, syscall.EPROTONOSUPPORT) || errors.Is(err, syscall.ESOCKTNOSUPPORT) {
		return fmt.Errorf("%w: %v", errSCTPUnsupported, err)
	}
	return err
}

func listenSCTP(port int) (net.Listener, error) {
	l, err := sctp.ListenSCTP("sctp", &sctp.SCTPAddr{Port: port})
	if err != nil {
		return nil, sctpErr(err)
	}
	return l, nil
}

// probeSCTP associates over SCTP and reads the identity. The library's dial
// takes no context, so it runs aside and is abandoned at the deadline.
func probeSCTP(ctx context.Context, t Target) Result {
	addr, err := sctp.ResolveSCTPAddr("sctp", net.JoinHostPort(t.Host, strconv.Itoa(t.Port)))
	if err != nil {
		return Result{Outcome: Error, Detail: err.Error()}
	}
	type dialed struct {
		conn *sctp.SCTPConn
		err  error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := sctp.DialSCTP("sctp", nil, addr)
		ch <- dialed{c, err}
	}()
	select {
	case <-ctx.Done():
		go func() {
			if d := <-ch; d.conn != nil {
				d.conn.Close()
			}
		}()
		return Result{Outcome: DeniedTimeout, Detail: ctx.Err().Error()}
	case d := <-ch:
		if d.err != nil {
			err := sctpErr(d.err)
			if errors.Is(err, errSCTPUnsupported) {
				return Result{Outcome: Error, Detail: err.Error()}
			}
			return Result{Outcome: classify(err), Detail: err.Error()}
		}
		// SCTPConn has no deadlines: closing it at the deadline ends the read.
		stop := context.AfterFunc(ctx, func() { d.conn.Close() })
		defer stop()
		defer d.conn.Close()
		buf := make([]byte, 256)
		n, err := d.conn.Read(buf)
		switch {
		case n > 0:
			return Result{Outcome: Allowed, Reply: strings.TrimSpace(string(buf[:n]))}
		default:
			// The association was accepted, so the policy let it
			// through; silence after that is no denial (as for TCP).
			return Result{Outcome: Error, Detail: fmt.Sprintf("associated but read nothing: %v", err)}
		}
	}
}

// SCTPSupported reports whether this kernel can open SCTP sockets.
func SCTPSupported() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_SCTP)
	if err != nil {
		return sctpErr(err)
	}
	syscall.Close(fd)
	return nil
}
