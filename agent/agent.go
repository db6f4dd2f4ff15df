// Package agent is the small program that runs inside test pods: Serve
// answers TCP, UDP and (where the kernel has it) SCTP with the pod's
// identity; ProbeAll probes a batch of targets concurrently and classifies
// each. A probe reports an outcome, never a verdict: whether "denied" was
// expected is the caller's business.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/net/dns/dnsmessage"
)

// Outcome of one probe.
type Outcome string

const (
	// Allowed: the peer answered with its identity.
	Allowed Outcome = "allowed"
	// DeniedTimeout: no answer within the timeout (a DROP, or nobody there).
	DeniedTimeout Outcome = "denied-timeout"
	// DeniedRefused: actively refused (a TCP reset or an ICMP
	// unreachable, e.g. an iptables REJECT).
	DeniedRefused Outcome = "denied-refused"
	// Error: the probe itself could not run (bad address, protocol not
	// supported by the kernel...); never to be read as "blocked".
	Error Outcome = "error"
)

// Protocols the agent serves and probes.
const (
	TCP  = "TCP"
	UDP  = "UDP"
	SCTP = "SCTP"
)

// Target is one thing to probe.
type Target struct {
	Host     string
	Port     int
	Protocol string
	// Mode says what counts as an answer from a peer that is not an agent.
	Mode Mode
	// Expect is the identity ("namespace/name") the answering agent must
	// give; an answer from anything else is an error, never "allowed": a
	// reply from another pod (a stale IP, a wrong Service endpoint) says
	// nothing about the policy between these two. Empty: any answer.
	Expect string
	// Flows is how many independent new flows to send (at once, each from
	// its own source port); 0 or 1: one. The target counts as allowed when
	// any of them is answered: one flow through is a leak.
	Flows int
}

// MinTimeout is the shortest probe timeout: below it a connection the
// policy allows may not finish, and a denial would be read into a slow
// answer.
const MinTimeout = 100 * time.Millisecond

// Mode is how a probe recognises an answer.
type Mode string

const (
	// ModeIdentity: the peer is an agent and answers with its identity line.
	ModeIdentity Mode = ""
	// ModeConnect: a completed TCP connection is the answer (an API server,
	// which waits for the client to speak first).
	ModeConnect Mode = "connect"
	// ModeDNS: the peer is a DNS server, which drops datagrams that are not
	// DNS messages; a well-formed query gets an answer of any rcode.
	ModeDNS Mode = "dns"
)

// ParseTarget reads "HOST:PORT", "HOST:PORT/PROTOCOL" (default TCP) or
// "HOST:PORT/PROTOCOL/MODE" (connect, dns), each optionally followed by
// "@NAMESPACE/NAME", the identity the answer must carry, and "#N", the
// number of independent flows to send.
func ParseTarget(s string) (Target, error) {
	s, flows, hasFlows := strings.Cut(s, "#")
	n := 1
	if hasFlows {
		var err error
		if n, err = strconv.Atoi(flows); err != nil || n < 1 || n > MaxFlows {
			return Target{}, fmt.Errorf("target %q: flows %q is not a number from 1 to %d", s, flows, MaxFlows)
		}
	}
	t, err := parseIdentity(s)
	if n > 1 {
		t.Flows = n
	}
	return t, err
}

// MaxFlows bounds the flows of one target.
const MaxFlows = 1000

// FlowPace is the gap between the repeated flows a probe sends: 1,000 new
// flows a second from each agent.
const FlowPace = time.Millisecond

func parseIdentity(s string) (Target, error) {
	s, expect, _ := strings.Cut(s, "@")
	if _, _, ok := strings.Cut(expect, "/"); expect != "" && !ok {
		return Target{}, fmt.Errorf("target %q: expected identity %q is not NAMESPACE/NAME", s, expect)
	}
	t, err := parseTarget(s)
	t.Expect = expect
	return t, err
}

func parseTarget(s string) (Target, error) {
	addr, rest, found := strings.Cut(s, "/")
	proto, mode, _ := strings.Cut(rest, "/")
	if !found {
		proto = TCP
	}
	switch Mode(mode) {
	case ModeIdentity, ModeConnect, ModeDNS:
	default:
		return Target{}, fmt.Errorf("target %q: mode %q is not connect or dns", s, mode)
	}
	proto = strings.ToUpper(proto)
	if proto != TCP && proto != UDP && proto != SCTP {
		return Target{}, fmt.Errorf("target %q: protocol %q is not TCP, UDP or SCTP", s, proto)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %w", s, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return Target{}, fmt.Errorf("target %q: port %q is not a number from 1 to 65535", s, portStr)
	}
	if Mode(mode) == ModeConnect && proto != TCP {
		return Target{}, fmt.Errorf("target %q: connect mode is for TCP", s)
	}
	return Target{Host: host, Port: port, Protocol: proto, Mode: Mode(mode)}, nil
}

func (t Target) String() string {
	s := net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) + "/" + t.Protocol
	if t.Mode != ModeIdentity {
		s += "/" + string(t.Mode)
	}
	if t.Expect != "" {
		s += "@" + t.Expect
	}
	if t.Flows > 1 {
		s += "#" + strconv.Itoa(t.Flows)
	}
	return s
}

// Result is what a probe prints as one JSON line.
type Result struct {
	To        string  `json:"to"`
	Outcome   Outcome `json:"outcome"`
	ElapsedMS int64   `json:"elapsedMs"`
	// Reply is the identity the server answered with, when allowed.
	Reply string `json:"reply,omitempty"`
	// Detail is the underlying error for anything but allowed.
	Detail string `json:"detail,omitempty"`
	// Flows and Answered count the flows of a target sent more than once
	// and those answered.
	Flows    int `json:"flows,omitempty"`
	Answered int `json:"answered,omitempty"`
	// raw is what the peer sent, for dnsReply to decode.
	raw []byte
}

// Identity is the line Serve answers with: "namespace/name".
func Identity() string {
	return os.Getenv("POD_NAMESPACE") + "/" + os.Getenv("POD_NAME")
}

// Probe probes one target; the whole probe is bounded by timeout.
func Probe(ctx context.Context, t Target, timeout time.Duration) Result {
	return probe(ctx, t, timeout, 0)
}

// probe is Probe with a chosen UDP source port (0: the kernel picks one).
func probe(ctx context.Context, t Target, timeout time.Duration, udpSourcePort int) Result {
	ctx, cancel := context.WithTimeout(ctx, max(timeout, MinTimeout))
	defer cancel()
	start := time.Now()
	var r Result
	switch t.Protocol {
	case UDP:
		r = probeUDP(ctx, t, udpSourcePort)
	case SCTP:
		r = probeSCTP(ctx, t)
	default:
		r = probeStream(ctx, t)
	}
	if r.Outcome == Allowed && t.Expect != "" && t.Mode == ModeIdentity && r.Reply != t.Expect {
		r = Result{Outcome: Error, Detail: fmt.Sprintf("answered by %q, not by %s", r.Reply, t.Expect)}
	}
	r.To = t.String()
	r.ElapsedMS = time.Since(start).Milliseconds()
	return r
}

// ProbeAll probes every target concurrently, at most parallel at a time, and
// returns the results in target order. One exec of the agent per source pod
// covers a whole probe pass.
//
// udpPortBase, when not 0, makes the i-th UDP flow (counting every flow of
// every UDP target, in order) leave from port udpPortBase+i. A probe must
// be a new flow: if the kernel picked a
// source port that an earlier probe to the same destination used, that
// earlier flow's conntrack entry (30 s for UDP) would carry the new probe
// past a policy that now denies it. Callers rotate the base between passes.
func ProbeAll(ctx context.Context, targets []Target, timeout time.Duration, parallel, udpPortBase int) []Result {
	// Every flow of every target is one probe, the flows of a target
	// consecutive, each with its own UDP source port.
	type flow struct{ target, port int }
	var flows []flow
	udp := 0
	for i, t := range targets {
		for range max(t.Flows, 1) {
			port := 0
			if udpPortBase > 0 && t.Protocol == UDP {
				port = udpPortBase + udp
				udp++
			}
			flows = append(flows, flow{i, port})
		}
	}
	each := make([]Result, len(flows))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	start := func(n int) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			each[n] = probe(ctx, targets[flows[n].target], timeout, flows[n].port)
		}()
	}
	// Single flows go out at once. The repeated flows of confirming
	// passes go out round-robin across targets, FlowPace apart: a burst of
	// thousands of new connections at one instant overflows the queues of
	// enforcers that judge new flows in user space (kube-network-policies'
	// NFQUEUE, measured here), which then drop allowed flows too.
	var repeated [][]int // per target, the indexes of its flows
	for n, f := range flows {
		if t := targets[f.target]; max(t.Flows, 1) == 1 {
			start(n)
			continue
		}
		if len(repeated) == 0 || flows[n-1].target != f.target {
			repeated = append(repeated, nil)
		}
		repeated[len(repeated)-1] = append(repeated[len(repeated)-1], n)
	}
	for round := 0; ; round++ {
		sent := false
		for _, idx := range repeated {
			if round < len(idx) {
				if sent || round > 0 {
					time.Sleep(FlowPace)
				}
				start(idx[round])
				sent = true
			}
		}
		if !sent {
			break
		}
	}
	wg.Wait()
	results := make([]Result, len(targets))
	n := 0
	for i, t := range targets {
		k := max(t.Flows, 1)
		results[i] = combine(each[n : n+k])
		n += k
	}
	return results
}

// combine is the result of a target's flows: allowed when any flow was
// answered (a leak of a denial shows as one answer); otherwise a probe
// error if any flow could not run, else refused if any was refused, else
// timed out.
func combine(flows []Result) Result {
	if len(flows) == 1 {
		return flows[0]
	}
	var answered, errored, refused *Result
	count := 0
	for i := range flows {
		switch flows[i].Outcome {
		case Allowed:
			count++
			if answered == nil {
				answered = &flows[i]
			}
		case Error:
			if errored == nil {
				errored = &flows[i]
			}
		case DeniedRefused:
			if refused == nil {
				refused = &flows[i]
			}
		}
	}
	r := flows[0]
	switch {
	case answered != nil:
		r = *answered
	case errored != nil:
		r = *errored
	case refused != nil:
		r = *refused
	}
	r.Flows, r.Answered = len(flows), count
	return r
}

// probeStream connects over TCP, reads the identity line and classifies.
func probeStream(ctx context.Context, t Target) Result {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(t.Host, strconv.Itoa(t.Port)))
	if err != nil {
		return Result{Outcome: classify(err), Detail: err.Error()}
	}
	defer conn.Close()
	switch t.Mode {
	case ModeConnect:
		return Result{Outcome: Allowed, Reply: "connected"}
	case ModeDNS:
		// DNS over TCP: the message behind a two-byte length.
		q := dnsQuery()
		if _, err := conn.Write(append([]byte{byte(len(q) >> 8), byte(len(q))}, q...)); err != nil {
			return Result{Outcome: Error, Detail: fmt.Sprintf("connected but could not send the query: %v", err)}
		}
		return dnsReply(readReply(ctx, conn), true)
	}
	return readReply(ctx, conn)
}

// dnsQuery is a DNS query for the A record of a name the cluster DNS
// answers itself, without asking a server outside the cluster: the
// kubernetes Service, kubernetes.default.svc.<cluster domain>. A query a
// server must forward (the root's NS records, say) can go unanswered on a
// cluster without internet access, which would read as a denial. Any
// answer, whatever its rcode, shows the server was reached.
func dnsQuery() []byte {
	q := []byte{
		0x6e, 0x70, // ID
		0x01, 0x00, // flags: recursion desired
		0, 1, 0, 0, 0, 0, 0, 0, // one question, no other records
	}
	for _, label := range strings.Split("kubernetes.default.svc."+clusterDomain(), ".") {
		q = append(append(q, byte(len(label))), label...)
	}
	return append(q,
		0,    // the root
		0, 1, // type A
		0, 1, // class IN
	)
}

// resolvConf is the pod's resolver configuration, which kubelet writes
// with the cluster domain in its search list.
var resolvConf = "/etc/resolv.conf"

// clusterDomain is the cluster's DNS domain as the pod's search list names
// it ("<ns>.svc.<domain> svc.<domain> <domain>"), cluster.local without one.
func clusterDomain() string {
	data, err := os.ReadFile(resolvConf)
	if err != nil {
		return "cluster.local"
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "search" {
			continue
		}
		for _, d := range f[1:] {
			if domain, ok := strings.CutPrefix(strings.TrimSuffix(d, "."), "svc."); ok && domain != "" && len(domain) < 200 {
				return domain
			}
		}
	}
	return "cluster.local"
}

// dnsAttempts is how many times a DNS query over UDP is sent within one
// probe timeout: a datagram lost on the way is not a denial.
const dnsAttempts = 3

// probeUDP sends one datagram and waits for the identity. A connected UDP
// socket surfaces an ICMP port unreachable as ECONNREFUSED on read.
func probeUDP(ctx context.Context, t Target, sourcePort int) Result {
	var d net.Dialer
	if sourcePort > 0 {
		d.LocalAddr = &net.UDPAddr{Port: sourcePort}
	}
	conn, err := d.DialContext(ctx, "udp", net.JoinHostPort(t.Host, strconv.Itoa(t.Port)))
	if err != nil && errors.Is(err, syscall.EADDRINUSE) {
		// Rare: fall back to a port the kernel picks.
		d.LocalAddr = nil
		conn, err = d.DialContext(ctx, "udp", net.JoinHostPort(t.Host, strconv.Itoa(t.Port)))
	}
	if err != nil {
		return Result{Outcome: classify(err), Detail: err.Error()}
	}
	defer conn.Close()
	if t.Mode == ModeDNS {
		return queryDNS(ctx, conn)
	}
	if _, err := conn.Write([]byte("probe\n")); err != nil {
		return Result{Outcome: classify(err), Detail: err.Error()}
	}
	return readReply(ctx, conn)
}

// queryDNS sends the query up to dnsAttempts times, evenly over the probe's
// time, and returns the first answer; silence through all of them is a
// denial, as is a refusal.
func queryDNS(ctx context.Context, conn net.Conn) Result {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(MinTimeout)
	}
	slice := time.Until(deadline) / dnsAttempts
	q := dnsQuery()
	var last Result
	for i := range dnsAttempts {
		if _, err := conn.Write(q); err != nil {
			return Result{Outcome: classify(err), Detail: err.Error()}
		}
		actx, cancel := context.WithDeadline(ctx, deadline.Add(-time.Duration(dnsAttempts-1-i)*slice))
		last = dnsReply(readReply(actx, conn), false)
		cancel()
		if last.Outcome != DeniedTimeout {
			return last
		}
	}
	last.Detail = fmt.Sprintf("%d DNS queries unanswered: %s", dnsAttempts, last.Detail)
	return last
}

// dnsReply says what a DNS answer held ("NOERROR A 10.96.0.1"): the cell is
// allowed whatever the answer, but a report and the local cluster's smoke
// test can then tell a resolved name from a server that only answered.
func dnsReply(r Result, tcp bool) Result {
	if r.Outcome != Allowed || r.raw == nil {
		return r
	}
	msg := r.raw
	if tcp && len(msg) >= 2 {
		msg = msg[2:]
	}
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		r.Reply = fmt.Sprintf("%s (not a DNS message: %v)", r.Reply, err)
		return r
	}
	_ = p.SkipAllQuestions()
	rcode, ok := rcodeNames[h.RCode]
	if !ok {
		rcode = h.RCode.String()
	}
	parts := []string{rcode}
	for {
		a, err := p.AnswerHeader()
		if err != nil {
			break
		}
		if a.Type != dnsmessage.TypeA {
			_ = p.SkipAnswer()
			continue
		}
		rr, err := p.AResource()
		if err != nil {
			break
		}
		parts = append(parts, "A "+net.IP(rr.A[:]).String())
	}
	r.Reply = strings.Join(parts, " ")
	return r
}

// rcodeNames are the response codes as dig and the RFCs spell them.
var rcodeNames = map[dnsmessage.RCode]string{
	dnsmessage.RCodeSuccess: "NOERROR", dnsmessage.RCodeFormatError: "FORMERR",
	dnsmessage.RCodeServerFailure: "SERVFAIL", dnsmessage.RCodeNameError: "NXDOMAIN",
	dnsmessage.RCodeNotImplemented: "NOTIMP", dnsmessage.RCodeRefused: "REFUSED",
}

// readReply reads the identity line. After a TCP connect any failure is an
// error, not a denial: the policy let the connection through and something
// else broke. For UDP, silence or an ICMP unreachable is the only denial
// signal there is.
func readReply(ctx context.Context, conn net.Conn) Result {
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	switch {
	case n > 0 && !utf8.Valid(buf[:n]):
		return Result{Outcome: Allowed, Reply: fmt.Sprintf("%d bytes", n), raw: buf[:n]}
	case n > 0:
		return Result{Outcome: Allowed, Reply: strings.TrimSpace(string(buf[:n])), raw: buf[:n]}
	case err == nil:
		return Result{Outcome: Error, Detail: "empty reply"}
	case conn.LocalAddr().Network() == "udp" && classify(err) != Error:
		return Result{Outcome: classify(err), Detail: err.Error()}
	default:
		return Result{Outcome: Error, Detail: fmt.Sprintf("connected but read nothing: %v", err)}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// classify maps a dial or read error to an outcome.
func classify(err error) Outcome {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return DeniedRefused
	case isTimeout(err):
		return DeniedTimeout
	default:
		return Error
	}
}
