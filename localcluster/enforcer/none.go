package enforcer

import (
	"context"

	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
)

// None runs no enforcer: NetworkPolicy objects are accepted by the API and
// ignored, as on a cluster whose CNI (flannel, plain bridge) does not
// implement them. It lets the suite's "not enforced" verdict run for real.
type None struct{}

func init() { register(None{}) }

func (None) Name() string                       { return "none" }
func (None) Enforces() bool                     { return false }
func (None) Build(context.Context, Env) error   { return nil }
func (None) Processes(Env) []proc.Spec          { return nil }
func (None) Ready(context.Context, Env) error   { return nil }
func (None) Cleanup(context.Context, Env) error { return nil }
func (None) Footprint() Footprint               { return Footprint{} }
