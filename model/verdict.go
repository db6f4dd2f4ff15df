package model

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Traffic is one connection attempt the model decides on.
type Traffic struct {
	// From and To name endpoints of the topology: "ns/pod" or an external's
	// name.
	From, To string
	Port     int32
	Protocol corev1.Protocol
	// Established marks a connection opened before the current set of
	// policies and labels took effect.
	Established bool
}

func (t Traffic) String() string {
	return fmt.Sprintf("%s -> %s %d/%s", t.From, t.To, t.Port, t.Protocol)
}

// Undefined names a behaviour the spec leaves to the implementation. A cell
// carrying one is reported but never counted as a failure.
type Undefined string

const (
	// Loopback: "a pod cannot block access to itself" (concept docs), but
	// whether that holds for a pod reaching itself by its own IP, and how a
	// plugin implements it, differ.
	Loopback Undefined = "loopback"
	// NodeTraffic: the API allows traffic whose "source is the pod's local
	// node", and the concept docs add "traffic to and from the node where a
	// Pod is running is always allowed"; which addresses count as the node
	// is for the implementation to decide.
	NodeTraffic Undefined = "node-traffic"
	// HostNetwork: "NetworkPolicy behaviour for hostNetwork pods is
	// undefined" (concept docs).
	HostNetwork Undefined = "host-network"
	// EstablishedConnection: "it is implementation defined as to whether the
	// change will take effect for that existing connection or not" (concept
	// docs, "NetworkPolicy's effect on existing connections").
	EstablishedConnection Undefined = "established-connection"
	// DenialMode: the API says which traffic is denied, never how; dropping
	// (the client times out) and rejecting (the client is refused) are both
	// conformant. It never appears on a Verdict: the suite reports the
	// observed mode per cell under this name.
	DenialMode Undefined = "denial-mode"
	// PriorityTie: cluster-wide policies of one tier and one priority
	// that match the same connection with different outcomes: "the
	// implementation can apply any of the matching policies to the
	// connection, and there is no way for the user to reliably determine
	// which one it will choose" (network-policy-api, spec.priority).
	PriorityTie Undefined = "priority-tie"
)

// Verdict is the model's decision for one Traffic, with its reasons.
type Verdict struct {
	Traffic Traffic
	// Allowed is the spec's answer; when ImplementationDefined is not empty
	// it is the most common reading, not a requirement.
	Allowed bool
	// Egress is the decision at the source, Ingress at the destination.
	// "For a connection from a source pod to a destination pod to be
	// allowed, both the egress policy on the source pod and the ingress
	// policy on the destination pod need to allow the connection."
	Egress, Ingress Side
	// ImplementationDefined lists why the spec does not settle this cell.
	ImplementationDefined []Undefined
	// OwnNode marks traffic between a pod and its own node, which the
	// spec always allows whatever the policies say.
	OwnNode bool
}

// Defined reports whether the spec settles the verdict.
func (v Verdict) Defined() bool { return len(v.ImplementationDefined) == 0 }

// Side is the decision of one direction at one endpoint.
type Side struct {
	Direction networkingv1.PolicyType
	// Subject is the pod whose policies decide; empty when the endpoint is
	// not a pod, so no NetworkPolicy applies to it.
	Subject string
	// Isolating lists, as "ns/name", the policies that select the subject
	// and apply to this direction. Empty means the subject is not isolated.
	Isolating []string
	// AllowedBy lists every rule that allows the traffic, in policy order.
	AllowedBy []RuleRef
	Allowed   bool
	// Chain lists the cluster-wide rules that matched, in the order the
	// tiers met them: a Pass, then what decided.
	Chain []TierDecision
	// DecidedBy is the tier that decided; empty when none did and the
	// default ("all pods can communicate with each other") applies.
	DecidedBy Tier
	// PriorityTie marks a decision among cluster-wide policies of equal
	// priority that would decide differently.
	PriorityTie bool
	// SelectedBy lists the cluster-wide policies whose subject is the
	// pod and which have rules for this direction, matching or not.
	SelectedBy []string
}

// clusterWide reports whether a cluster-wide tier decided this side.
func (s Side) clusterWide() bool { return s.DecidedBy == TierAdmin || s.DecidedBy == TierBaseline }

// Isolated reports whether any policy isolates the subject in this
// direction.
func (s Side) Isolated() bool { return len(s.Isolating) > 0 }

// RuleRef points at the part of a policy that allowed a connection.
type RuleRef struct {
	Policy    string // "ns/name"
	Direction networkingv1.PolicyType
	// Rule indexes spec.ingress or spec.egress.
	Rule int
	// Peer indexes the rule's from/to list; -1 when the list is empty and
	// the rule matches all peers.
	Peer int
	// Port indexes the rule's ports list; -1 when the list is empty and the
	// rule matches all ports.
	Port int
}

func (r RuleRef) String() string {
	dir, peers, anyPeer := "ingress", "from", "any source"
	if r.Direction == networkingv1.PolicyTypeEgress {
		dir, peers, anyPeer = "egress", "to", "any destination"
	}
	s := fmt.Sprintf("%s %s[%d]", r.Policy, dir, r.Rule)
	if r.Peer < 0 {
		s += " (" + anyPeer + ")"
	} else {
		s += fmt.Sprintf(" %s[%d]", peers, r.Peer)
	}
	if r.Port < 0 {
		s += " (any port)"
	} else {
		s += fmt.Sprintf(" ports[%d]", r.Port)
	}
	return s
}

// Explain renders the verdict for a human: the answer, then each side's
// reason.
func (v Verdict) Explain() string {
	var b strings.Builder
	answer := "denied"
	if v.Allowed {
		answer = "allowed"
	}
	fmt.Fprintf(&b, "%s: %s\n", v.Traffic, answer)
	for _, u := range v.ImplementationDefined {
		fmt.Fprintf(&b, "  implementation-defined: %s (reported, never a failure)\n", u)
	}
	if v.OwnNode {
		b.WriteString("  allowed whatever the policies say: traffic between a pod and its own node is always allowed\n")
	}
	for _, s := range []Side{v.Egress, v.Ingress} {
		fmt.Fprintf(&b, "  %s\n", s.explain())
	}
	return b.String()
}

func (s Side) explain() string {
	dir := strings.ToLower(string(s.Direction))
	if len(s.Chain) > 0 {
		return fmt.Sprintf("%s at %s: %s", dir, s.Subject, s.chain())
	}
	switch {
	case !s.Isolated() && len(s.SelectedBy) > 0:
		return fmt.Sprintf("%s at %s: allowed, no %s rule of %s matches and no NetworkPolicy selects it for %s", dir, s.Subject, dir, strings.Join(s.SelectedBy, ", "), dir)
	case s.Subject == "":
		return fmt.Sprintf("%s: endpoint is not a pod; no NetworkPolicy applies", dir)
	case !s.Isolated():
		return fmt.Sprintf("%s at %s: allowed, not isolated (no policy selects it for %s)", dir, s.Subject, dir)
	case s.Allowed:
		refs := make([]string, len(s.AllowedBy))
		for i, r := range s.AllowedBy {
			refs[i] = r.String()
		}
		return fmt.Sprintf("%s at %s: allowed by %s", dir, s.Subject, strings.Join(refs, "; "))
	default:
		return fmt.Sprintf("%s at %s: denied, isolated by %s and no %s rule allows it", dir, s.Subject, strings.Join(s.Isolating, ", "), dir)
	}
}

// chain renders the tiers that decided, e.g. "[Admin cnp/deny-db prio 10
// ingress[1]] Pass → [NetworkPolicy shop/allow-web ingress[0] ...] Allow".
func (s Side) chain() string {
	steps := make([]string, 0, len(s.Chain)+1)
	for _, d := range s.Chain {
		steps = append(steps, d.String())
	}
	answer := "Deny"
	if s.Allowed {
		answer = "Allow"
	}
	switch {
	case s.clusterWide():
		// The last step decided.
	case s.DecidedBy == TierNetworkPolicy && s.Allowed:
		refs := make([]string, len(s.AllowedBy))
		for i, r := range s.AllowedBy {
			refs[i] = r.String()
		}
		steps = append(steps, fmt.Sprintf("[%s %s] %s", TierNetworkPolicy, strings.Join(refs, "; "), answer))
	case s.DecidedBy == TierNetworkPolicy:
		steps = append(steps, fmt.Sprintf("[%s isolated by %s, no rule allows] %s", TierNetworkPolicy, strings.Join(s.Isolating, ", "), answer))
	default:
		steps = append(steps, "[default: no tier decided] "+answer)
	}
	out := strings.Join(steps, " → ")
	if s.PriorityTie {
		out += " (policies of equal priority decide differently: implementation-defined)"
	}
	return out
}
