// Package probing turns probe passes into a verdict: it probes in passes
// until the observation matches the model or a bounded convergence timeout
// passes, records every pass, measures the time to enforce, and fails a
// cell that flips back after matching ("flapping") instead of retrying it
// into a pass. It does no cluster I/O itself: a pass is a function.
package probing

import (
	"context"
	"fmt"
	"time"

	"github.com/netpol-conformance/netpol-conformance/reachability"
)

// PassFunc runs one probe pass and returns one observed table per expected
// table, same keys, same rows and columns.
type PassFunc func(ctx context.Context) ([]*reachability.Table, error)

// Options bound the wait.
type Options struct {
	// Timeout bounds the wait for the observation to match the model.
	Timeout time.Duration
	// Confirm is how many passes after the first match must still match;
	// a cell that flips back in them is flapping.
	Confirm int
	// Interval is the pause between passes that did not match.
	Interval time.Duration
	// ConfirmPass, when set, runs the passes after the first match instead
	// of the plain pass: one that sends ConfirmFlows new flows to every
	// denied cell, so a leaky denial cannot confirm a match.
	ConfirmPass PassFunc
	// MinSettle keeps confirming until this long after the change. A
	// stage whose expected tables equal the state before the change
	// matches at once, before the enforcer has acted: without a settle
	// time it would pass however the enforcer then behaves.
	MinSettle time.Duration
}

// Pass is one recorded probe pass.
type Pass struct {
	// At is the time since the change the pass observes.
	At       time.Duration
	Observed []*reachability.Table
	// Wrong counts defined cells that disagree with the model.
	Wrong int
}

// Result is the outcome of waiting for one stage.
type Result struct {
	Passes []Pass
	// Converged is true when a pass matched the model and every confirming
	// pass did too.
	Converged bool
	// TimeToEnforce is the time from the change to the first matching pass
	// (the end of that pass); zero when it never matched.
	TimeToEnforce time.Duration
	// Flapping lists cells that matched and then flipped back.
	Flapping []reachability.Mismatch
	// Comparisons holds, per expected table, the comparison with the last
	// pass: what the failure message shows.
	Comparisons []reachability.Comparison
}

// Last returns the last pass's observation.
func (r *Result) Last() []*reachability.Table {
	if len(r.Passes) == 0 {
		return nil
	}
	return r.Passes[len(r.Passes)-1].Observed
}

// record runs one pass, compares it with expected and appends it; the
// comparisons are then the last pass's.
func (r *Result) record(ctx context.Context, start time.Time, expected []*reachability.Table, pass PassFunc) (Pass, error) {
	observed, err := pass(ctx)
	if err != nil {
		return Pass{}, fmt.Errorf("probe pass %d: %w", len(r.Passes)+1, err)
	}
	if len(observed) != len(expected) {
		return Pass{}, fmt.Errorf("probe pass %d returned %d tables, want %d", len(r.Passes)+1, len(observed), len(expected))
	}
	p := Pass{At: time.Since(start), Observed: observed}
	r.Comparisons = nil
	for i := range expected {
		c := reachability.Compare(expected[i], observed[i])
		r.Comparisons = append(r.Comparisons, c)
		p.Wrong += len(c.Wrong) + len(c.Missing)
	}
	r.Passes = append(r.Passes, p)
	return p, nil
}

// Converge probes until the observation matches expected and stays matched
// for opts.Confirm more passes, or opts.Timeout passes since start (the
// moment of the change). Implementation-defined cells never hold the wait.
func Converge(ctx context.Context, start time.Time, expected []*reachability.Table, pass PassFunc, opts Options) (*Result, error) {
	res := &Result{}
	deadline := start.Add(opts.Timeout)
	confirmed := -1 // passes since the first match; -1 before it
	for {
		run := pass
		if confirmed >= 0 && opts.ConfirmPass != nil {
			run = opts.ConfirmPass
		}
		p, err := res.record(ctx, start, expected, run)
		if err != nil {
			return res, err
		}
		at := p.At
		settled := at >= opts.MinSettle

		switch {
		case p.Wrong == 0 && confirmed < 0:
			res.TimeToEnforce = at
			confirmed = 0
		case p.Wrong == 0:
			confirmed++
		case confirmed >= 0:
			// It matched, then a defined cell flipped back.
			for _, c := range res.Comparisons {
				res.Flapping = append(res.Flapping, c.Wrong...)
				res.Flapping = append(res.Flapping, c.Missing...)
			}
			return res, nil
		}
		if confirmed >= opts.Confirm && settled {
			res.Converged = true
			return res, nil
		}
		if confirmed < 0 && time.Now().After(deadline) {
			if opts.ConfirmPass != nil {
				// The last observation of a departure is what a CNI's
				// reading is judged against: it gets the confirming
				// flows too, so a leak cannot hide behind a reading that
				// explains the other cells.
				if _, err := res.record(ctx, start, expected, opts.ConfirmPass); err != nil {
					return res, err
				}
			}
			return res, nil
		}
		if (confirmed < 0 || !settled) && opts.Interval > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(opts.Interval):
			}
		}
	}
}
