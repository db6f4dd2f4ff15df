package results

import (
	"fmt"
	"strings"
	"time"
)

// Change is one case whose outcome moved between two runs.
type Change struct {
	Case     string
	Old, New *Case
}

// Difference is what changed from one run of a cluster to the next.
type Difference struct {
	// NewFailures failed in the new run and did not in the old one.
	NewFailures []Change
	// Fixed departed from the spec in the old run and conform in the new.
	Fixed []Change
	// Stopped ran in the old run and were skipped, or did not run, in the
	// new one: a case that stops running is no pass.
	Stopped []Change
	// Changed moved to another verdict class without being either, e.g.
	// from pass to a known deviation after a profile update.
	Changed []Change
	// Slower and Faster changed their time to enforce by more than the
	// threshold given to Diff.
	Slower, Faster []Change
	// Gone were in the old run only (not run in the new one); Added in the
	// new one only (not run in the old one).
	Gone, Added []string
}

// Regressed reports whether the new run is worse, or cannot be held against
// the old one: new failures, cases that no longer run, cases one run has
// and the other lacks. CI fails on it.
func (d Difference) Regressed() bool {
	return len(d.NewFailures) > 0 || len(d.Gone) > 0 || len(d.Stopped) > 0 || len(d.Added) > 0
}

// Diff compares two runs of one cluster. A time to enforce counts as
// changed when it moved by more than threshold and by more than half.
// A new run that is strict fails on known deviations as well.
func Diff(old, new *Run, threshold time.Duration) Difference {
	var d Difference
	failing := func(r *Run, c *Case) bool { return c.Verdict.Failing(r.Strict()) }
	for i := range old.Cases {
		oc := &old.Cases[i]
		nc := new.Case(oc.Name)
		if nc == nil {
			d.Gone = append(d.Gone, oc.Name)
			continue
		}
		ch := Change{Case: oc.Name, Old: oc, New: nc}
		switch {
		case nc.Verdict == NotRun:
			// Nothing was observed: never "no change", whatever the old
			// run said.
			d.Stopped = append(d.Stopped, ch)
		case failing(new, nc) && (!failing(old, oc) || oc.Verdict == NotRun):
			// A failure where the old run failed too counts only when the
			// old run observed nothing.
			d.NewFailures = append(d.NewFailures, ch)
		case oc.Verdict != Skipped && nc.Verdict == Skipped:
			d.Stopped = append(d.Stopped, ch)
		case oc.Verdict.reading() == "departs" && nc.Verdict.reading() == "conforms":
			d.Fixed = append(d.Fixed, ch)
		case oc.Verdict != nc.Verdict:
			d.Changed = append(d.Changed, ch)
		}
		if oc.TimeToEnforce > 0 && nc.TimeToEnforce > 0 {
			delta := nc.TimeToEnforce - oc.TimeToEnforce
			if delta > threshold && delta > oc.TimeToEnforce/2 {
				d.Slower = append(d.Slower, ch)
			} else if -delta > threshold && -delta > oc.TimeToEnforce/2 {
				d.Faster = append(d.Faster, ch)
			}
		}
	}
	for i, nc := range new.Cases {
		if old.Case(nc.Name) == nil {
			d.Added = append(d.Added, nc.Name)
			if failing(new, &new.Cases[i]) {
				d.NewFailures = append(d.NewFailures, Change{Case: nc.Name, New: &new.Cases[i]})
			}
		}
	}
	return d
}

// String renders the difference for a CI log.
func (d Difference) String() string {
	var b strings.Builder
	section := func(title string, changes []Change, detail func(Change) string) {
		if len(changes) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n", title, len(changes))
		for _, c := range changes {
			fmt.Fprintf(&b, "  %s%s\n", c.Case, detail(c))
		}
	}
	none := func(Change) string { return "" }
	timing := func(c Change) string {
		return fmt.Sprintf(": time to enforce %s -> %s", c.Old.TimeToEnforce.Round(10*time.Millisecond), c.New.TimeToEnforce.Round(10*time.Millisecond))
	}
	section("NEW FAILURES", d.NewFailures, none)
	section("NO LONGER RUN", d.Stopped, func(c Change) string { return ": " + c.New.Message })
	section("fixed", d.Fixed, none)
	section("changed verdict", d.Changed, func(c Change) string { return fmt.Sprintf(": %s -> %s", c.Old.Verdict, c.New.Verdict) })
	section("slower to enforce", d.Slower, timing)
	section("faster to enforce", d.Faster, timing)
	if len(d.Gone) > 0 {
		fmt.Fprintf(&b, "NOT RUN in the new run (%d): %s\n", len(d.Gone), strings.Join(d.Gone, ", "))
	}
	if len(d.Added) > 0 {
		fmt.Fprintf(&b, "NOT RUN in the old run (%d), so not comparable: %s\n", len(d.Added), strings.Join(d.Added, ", "))
	}
	if b.Len() == 0 {
		return "no change\n"
	}
	return b.String()
}
