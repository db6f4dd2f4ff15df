package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"

	"github.com/netpol-conformance/netpol-conformance/localcluster/enforcer"
)

// leakComment marks the injected rule, so it is found and removed by what
// it is, never by position.
const leakComment = "netpol-conformance injected leak"

// Leak is a fault in the enforcer's datapath: a share of the new flows it
// matches are accepted before the enforcer sees them, whatever the
// policies say. It is how the suite's leak statistics are measured on a
// real cluster (docs/reliability.md).
type Leak struct {
	// Percent of the matching new flows let through, 1 to 100; 0 removes
	// the leak.
	Percent int
	// From and To narrow the leak to one source and one destination pod
	// address; empty means any pod.
	From, To string
	// Port and Protocol (TCP or UDP) narrow it to one destination port;
	// zero means any.
	Port     int
	Protocol string
}

// iptablesMatch is the rule's match, validated: only pod addresses of this
// cluster, so nothing outside it can be let through.
func (l Leak) iptablesMatch() ([]string, error) {
	if l.Percent < 0 || l.Percent > 100 {
		return nil, fmt.Errorf("leak: --percent %d is not between 0 and 100", l.Percent)
	}
	pods := netip.MustParsePrefix(ClusterCIDR)
	addr := func(flag, s string) (string, error) {
		if s == "" {
			return ClusterCIDR, nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !pods.Contains(a) {
			return "", fmt.Errorf("leak: --%s %q is not a pod address of the local cluster (%s)", flag, s, ClusterCIDR)
		}
		return a.String(), nil
	}
	from, err := addr("from", l.From)
	if err != nil {
		return nil, err
	}
	to, err := addr("to", l.To)
	if err != nil {
		return nil, err
	}
	m := []string{"-s", from, "-d", to}
	switch proto := strings.ToLower(l.Protocol); {
	case l.Port == 0 && proto == "":
	case l.Port < 1 || l.Port > 65535 || (proto != "tcp" && proto != "udp"):
		return nil, fmt.Errorf("leak: --port %d/%s: want a port from 1 to 65535 and TCP or UDP", l.Port, l.Protocol)
	default:
		m = append(m, "-p", proto, "--dport", strconv.Itoa(l.Port))
	}
	// Only the first packet of a flow is judged: a flow let through stays
	// through (the enforcer accepts established flows), as a real leak's.
	return append(m, "-m", "conntrack", "--ctstate", "NEW",
		"-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(float64(l.Percent)/100, 'f', 2, 64),
		"-m", "comment", "--comment", leakComment, "-j", "ACCEPT"), nil
}

// InjectLeak replaces any leak injected before with l (none when
// l.Percent is 0). The cluster must have been brought up with
// Options.LeakInjection and an enforcer that is an enforcer.LeakInjector.
func (c *Cluster) InjectLeak(ctx context.Context, l Leak) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	match, err := l.iptablesMatch()
	if err != nil {
		return err
	}
	rec, err := c.loadRecord()
	if err != nil {
		return fmt.Errorf("leak: no cluster is up in %s: %w", c.opts.StateDir, err)
	}
	drv, err := enforcer.Get(rec.Enforcer)
	if err != nil {
		return err
	}
	inj, ok := drv.(enforcer.LeakInjector)
	if !ok || !rec.LeakInjection {
		return fmt.Errorf("leak: the cluster in %s runs %s without leak injection: bring it up with `local up --enforcer ENFORCER --leak-injection` (%s)", c.opts.StateDir, rec.Enforcer, leakInjectors())
	}
	chain := inj.LeakChain()
	if err := removeLeaks(ctx, chain); err != nil {
		return err
	}
	if l.Percent == 0 {
		c.logf("no leak injected")
		return nil
	}
	args := append([]string{"-w", "5", "-I", chain, "1"}, match...)
	if out, err := exec.CommandContext(ctx, "iptables", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("leak: iptables %s: %v: %s", strings.Join(args, " "), err, out)
	}
	c.logf("leak injected first in filter %s: %s", chain, strings.Join(match, " "))
	return nil
}

// removeLeaks deletes every injected rule of chain.
func removeLeaks(ctx context.Context, chain string) error {
	out, err := exec.CommandContext(ctx, "iptables", "-w", "5", "-S", chain).Output()
	if err != nil {
		return fmt.Errorf("leak: listing filter %s: %w", chain, err)
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, leakComment) || !strings.HasPrefix(line, "-A "+chain+" ") {
			continue
		}
		// iptables -S quotes the comment; split it back as the shell would.
		args := append([]string{"-w", "5", "-D", chain}, shellFields(strings.TrimPrefix(line, "-A "+chain+" "))...)
		if out, err := exec.CommandContext(ctx, "iptables", args...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("leak: removing %q: %v: %s", line, err, out))
		}
	}
	return errors.Join(errs...)
}

// shellFields splits s on spaces outside double quotes, dropping the quotes.
func shellFields(s string) []string {
	var fields []string
	var cur strings.Builder
	quoted, started := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, started = !quoted, true
		case r == ' ' && !quoted:
			if started {
				fields = append(fields, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if started {
		fields = append(fields, cur.String())
	}
	return fields
}

// leakInjectors names the enforcers that support leak injection.
func leakInjectors() string {
	var names []string
	for _, n := range enforcer.Names() {
		if d, _ := enforcer.Get(n); d != nil {
			if _, ok := d.(enforcer.LeakInjector); ok {
				names = append(names, n)
			}
		}
	}
	return "enforcers that support it: " + strings.Join(names, ", ")
}
