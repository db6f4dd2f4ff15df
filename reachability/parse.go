package reachability

import (
	"fmt"
	"strings"
)

// Parse reads a grid as Grid renders it: whitespace-separated columns, a
// header row whose first field is "-", then one row per source. Cells are
// "." (allowed), "X" (blocked), "E" (probe error) or "?" (not pinned: the
// cell is compared with nothing). Every malformed line is reported.
func Parse(key Key, text string) (*Table, error) {
	var lines [][]string
	for _, line := range strings.Split(text, "\n") {
		if fields := strings.Fields(line); len(fields) > 0 {
			lines = append(lines, fields)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("empty table: want a header row starting with \"-\" and one row per source")
	}
	header := lines[0]
	if header[0] != "-" {
		return nil, fmt.Errorf("header row must start with \"-\", got %q", header[0])
	}
	var from []string
	for _, row := range lines[1:] {
		from = append(from, row[0])
	}
	t := New(key, from, header[1:])
	var errs []string
	for i, row := range lines[1:] {
		if len(row)-1 != len(t.To) {
			errs = append(errs, fmt.Sprintf("row %s has %d cells, want %d (one per column of the header)", row[0], len(row)-1, len(t.To)))
			continue
		}
		for j, mark := range row[1:] {
			o, ok := parseMark(mark)
			if !ok {
				errs = append(errs, fmt.Sprintf("row %s, column %s: %q is not one of . X E ?", row[0], t.To[j], mark))
				continue
			}
			t.SetAt(i, j, Cell{Outcome: o})
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return t, nil
}

func parseMark(s string) (Outcome, bool) {
	switch s {
	case ".":
		return Allowed, true
	case "X", "x":
		return Blocked, true
	case "E":
		return ProbeError, true
	case "?":
		return Unknown, true
	}
	return Unknown, false
}
