package reachability

// Mismatch is a cell where an observation departs from an expectation.
type Mismatch struct {
	From, To string
	Expected Cell
	Observed Outcome
}

// Comparison is the cell-by-cell result of comparing two tables.
type Comparison struct {
	// Wrong holds cells that differ where the spec defines the outcome.
	Wrong []Mismatch
	// Undefined holds cells that differ where the spec leaves the outcome
	// to the implementation: reported, never a failure.
	Undefined []Mismatch
	// Missing lists cells the observation does not hold at all.
	Missing []Mismatch
}

// Matches reports whether every defined cell agrees.
func (c Comparison) Matches() bool { return len(c.Wrong) == 0 && len(c.Missing) == 0 }

// Compare checks observed against expected, cell by cell, over expected's
// rows and columns. Expected cells that are Unknown are not compared.
func Compare(expected, observed *Table) Comparison {
	var c Comparison
	for i, from := range expected.From {
		for j, to := range expected.To {
			want := expected.At(i, j)
			if want.Outcome == Unknown {
				continue
			}
			got, ok := observed.Get(from, to)
			switch {
			case !ok || got.Outcome == Unknown:
				c.Missing = append(c.Missing, Mismatch{From: from, To: to, Expected: want})
			case got.Outcome == want.Outcome:
			case want.ImplementationDefined && got.Outcome == ProbeError:
				// Nothing was observed on a cell the spec leaves open: that
				// is no reading of the cluster's own, and the cell is
				// unjudged.
				c.Missing = append(c.Missing, Mismatch{From: from, To: to, Expected: want, Observed: got.Outcome})
			case want.ImplementationDefined:
				c.Undefined = append(c.Undefined, Mismatch{From: from, To: to, Expected: want, Observed: got.Outcome})
			default:
				c.Wrong = append(c.Wrong, Mismatch{From: from, To: to, Expected: want, Observed: got.Outcome})
			}
		}
	}
	return c
}

// DiffGrid renders a table of the comparison: "." where the cells agree,
// "X" where they differ, "?" where the difference is implementation-defined
// or the expected cell is not pinned.
func DiffGrid(expected, observed *Table) *Table {
	d := New(expected.Key, expected.From, expected.To)
	for i, from := range expected.From {
		for j, to := range expected.To {
			want := expected.At(i, j)
			got, _ := observed.Get(from, to)
			switch {
			case want.Outcome == Unknown:
				d.SetAt(i, j, Cell{Outcome: Unknown})
			case got.Outcome == want.Outcome:
				d.SetAt(i, j, Cell{Outcome: Allowed})
			case want.ImplementationDefined:
				d.SetAt(i, j, Cell{Outcome: Unknown})
			default:
				d.SetAt(i, j, Cell{Outcome: Blocked})
			}
		}
	}
	return d
}
