// Package reachability holds the truth table that expected (model) and
// observed (probe) reachability share, rendered the way readers of the
// upstream netpol e2e suite know it: one row per source, one column per
// destination, "." allowed, "X" blocked, "E" the probe itself failed.
package reachability

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Outcome is what a cell holds.
type Outcome uint8

const (
	// Unknown means the cell was not evaluated or not probed.
	Unknown Outcome = iota
	// Allowed means the connection succeeded (or the model allows it).
	Allowed
	// Blocked means the connection was denied: dropped or refused.
	Blocked
	// ProbeError means the probe could not run, so nothing is known about
	// the policy; it is never read as Blocked.
	ProbeError
)

// Mark returns the one-character form used in rendered tables.
func (o Outcome) Mark() string {
	switch o {
	case Allowed:
		return "."
	case Blocked:
		return "X"
	case ProbeError:
		return "E"
	default:
		return "?"
	}
}

func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case Blocked:
		return "blocked"
	case ProbeError:
		return "probe-error"
	default:
		return "unknown"
	}
}

// MarshalText writes the outcome as its name, so records stay readable.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome's name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for _, c := range []Outcome{Unknown, Allowed, Blocked, ProbeError} {
		if c.String() == string(b) {
			*o = c
			return nil
		}
	}
	return fmt.Errorf("unknown outcome %q (want allowed, blocked, probe-error or unknown)", b)
}

// OutcomeFor maps a boolean verdict to Allowed or Blocked.
func OutcomeFor(allowed bool) Outcome {
	if allowed {
		return Allowed
	}
	return Blocked
}

// Key identifies the traffic a table describes.
type Key struct {
	Port     int32
	Protocol corev1.Protocol
}

func (k Key) String() string { return fmt.Sprintf("%d/%s", k.Port, k.Protocol) }

// Cell is one (from, to) entry.
type Cell struct {
	Outcome Outcome
	// ImplementationDefined marks an expected cell whose behaviour the spec
	// leaves to the implementation: it is reported, never failed.
	ImplementationDefined bool
}

// Table is a reachability matrix for one port and protocol.
type Table struct {
	Key
	From  []string
	To    []string
	cells []Cell
}

// New returns a table with every cell Unknown.
func New(key Key, from, to []string) *Table {
	return &Table{Key: key, From: slices.Clone(from), To: slices.Clone(to), cells: make([]Cell, len(from)*len(to))}
}

func (t *Table) index(from, to string) (int, bool) {
	i := slices.Index(t.From, from)
	j := slices.Index(t.To, to)
	if i < 0 || j < 0 {
		return 0, false
	}
	return i*len(t.To) + j, true
}

// Set stores a cell; it reports false when from or to is not in the table.
func (t *Table) Set(from, to string, c Cell) bool {
	i, ok := t.index(from, to)
	if ok {
		t.cells[i] = c
	}
	return ok
}

// SetAt stores the cell at row i, column j.
func (t *Table) SetAt(i, j int, c Cell) { t.cells[i*len(t.To)+j] = c }

// Get returns a cell; ok is false when from or to is not in the table.
func (t *Table) Get(from, to string) (Cell, bool) {
	i, ok := t.index(from, to)
	if !ok {
		return Cell{}, false
	}
	return t.cells[i], true
}

// At returns the cell at row i, column j.
func (t *Table) At(i, j int) Cell { return t.cells[i*len(t.To)+j] }

// Count returns how many cells hold the outcome.
func (t *Table) Count(o Outcome) int {
	n := 0
	for _, c := range t.cells {
		if c.Outcome == o {
			n++
		}
	}
	return n
}

// String renders the table in the upstream format, columns aligned, with a
// title line naming port and protocol.
func (t *Table) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", t.Key)
	b.WriteString(t.Grid())
	return b.String()
}

// Grid renders only the matrix: a header row starting with "-", then one
// row per source. Parse reads this form back. Each row is built on its own
// and trimmed, so rendering stays linear in the size of the table.
func (t *Table) Grid() string {
	width := 1
	for _, k := range append(slices.Clone(t.From), t.To...) {
		width = max(width, len(k))
	}
	var b, line strings.Builder
	b.Grow((len(t.From) + 1) * (len(t.To) + 1) * (width + 1))
	pad := func(s string) {
		line.WriteString(s)
		for range width + 1 - len(s) {
			line.WriteByte(' ')
		}
	}
	endLine := func() {
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
		line.Reset()
	}
	pad("-")
	for _, to := range t.To {
		pad(to)
	}
	endLine()
	for i, from := range t.From {
		pad(from)
		for j := range t.To {
			pad(t.At(i, j).Outcome.Mark())
		}
		endLine()
	}
	return b.String()
}
