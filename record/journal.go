package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bounds on what a reader accepts. A case's detail holds its truth tables
// (tens of KB for the standard topology); a journal of a few thousand cases
// stays far below the total.
const (
	MaxLine    = 8 << 20
	MaxJournal = 256 << 20
)

// Journal appends entries to a journal file, one JSON document per line,
// each synced to disk before Append returns.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
	// size is the length of the journal's complete lines: a write that
	// fails is cut back to it, so one bad write never corrupts the lines
	// that came before or after it.
	size int64
}

// Create starts a journal at path with its Start entry. An existing file is
// replaced: a journal left by an earlier attempt is not this run's.
func Create(path string, s Start) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating the run's journal: %w", err)
	}
	j := &Journal{f: f, path: path}
	s.Schema = Schema
	if err := j.Append(Entry{Start: &s}); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Append writes one entry and syncs it.
func (j *Journal) Append(e Entry) error {
	if err := e.check(); err != nil {
		return err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding a journal entry: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	n, err := j.f.Write(append(line, '\n'))
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		if n > 0 {
			if terr := j.f.Truncate(j.size); terr == nil {
				_, _ = j.f.Seek(j.size, io.SeekStart)
			}
		}
		return fmt.Errorf("writing %s: %w", j.path, err)
	}
	j.size += int64(n)
	return nil
}

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.f.Close()
}

func (e Entry) check() error {
	n := 0
	for _, set := range []bool{e.Start != nil, e.Cluster != nil, e.Case != nil, e.End != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("a journal entry holds exactly one of start, cluster, case, end; this one holds %d", n)
	}
	if e.Case != nil {
		if e.Case.Name == "" {
			return errors.New("a journal case has no name")
		}
		if !validOutcome(e.Case.Outcome) {
			return fmt.Errorf("case %q: outcome %q is not one of %v", e.Case.Name, e.Case.Outcome, Outcomes)
		}
	}
	return nil
}

func validOutcome(o Outcome) bool {
	for _, v := range Outcomes {
		if v == o {
			return true
		}
	}
	return false
}

// ReadFile reads a journal file.
func ReadFile(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	run, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return run, nil
}

// Read reads a journal. The first line must be the Start of this schema;
// a final line without its newline is a write the writer did not finish
// (it was killed) and is dropped, with Truncated set. Anything else that
// does not parse, a case recorded twice, or input past the bounds is an
// error.
func Read(r io.Reader) (*Run, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxJournal+1))
	if err != nil {
		return nil, fmt.Errorf("reading the journal: %w", err)
	}
	if len(data) > MaxJournal {
		return nil, fmt.Errorf("the journal is larger than %d MiB", MaxJournal>>20)
	}
	run := &Run{}
	if i := bytes.LastIndexByte(data, '\n'); i != len(data)-1 {
		run.Truncated = len(data) > 0
		data = data[:i+1]
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("line %d: more than one document", n)
		}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		switch {
		case n == 1 && e.Start == nil:
			return nil, errors.New("line 1: a journal opens with its start entry")
		case n == 1 && e.Start.Schema != Schema:
			return nil, fmt.Errorf("line 1: schema %q, this reader knows %q", e.Start.Schema, Schema)
		case n == 1:
			run.Start = *e.Start
		case e.Start != nil:
			return nil, fmt.Errorf("line %d: a second start entry: two runs in one journal", n)
		case run.End != nil:
			return nil, fmt.Errorf("line %d: an entry after the run's end", n)
		case e.Cluster != nil:
			run.Cluster = e.Cluster
		case e.Case != nil:
			if seen[e.Case.Name] {
				return nil, fmt.Errorf("line %d: case %q recorded twice", n, e.Case.Name)
			}
			seen[e.Case.Name] = true
			run.Cases = append(run.Cases, *e.Case)
		case e.End != nil:
			run.End = e.End
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the journal: %w", err)
	}
	if run.Start.Schema == "" {
		return nil, errors.New("the journal is empty: the run never started")
	}
	return run, nil
}

// Seal closes a journal whose writer stopped without closing it (killed,
// crashed, timed out): a partial last line is cut off and an End saying
// why is appended, so the journal itself tells every later reader that the
// run is incomplete and why. A journal that already ends is left as it is,
// unless blame is set and the run ended interrupted: then why, what
// interrupted it as the sealer knows (the plugin stopped, a deadline),
// opens the End's reason. It returns the run read back.
func Seal(path, why string, now time.Time, blame bool) (*Run, error) {
	run, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	amend := blame && run.End != nil && run.End.Interrupted != ""
	if run.End != nil && !run.Truncated && !amend {
		return run, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	end := End{Finished: metav1.NewTime(now), Interrupted: why}
	if run.End != nil {
		// Replace the End line, the last complete one.
		data = data[:bytes.LastIndexByte(data[:len(data)-1], '\n')+1]
		end = *run.End
		if amend {
			end.Interrupted = why + ": " + end.Interrupted
		}
	}
	line, err := json.Marshal(Entry{End: &end})
	if err != nil {
		return nil, err
	}
	data = append(data, append(line, '\n')...)
	// Through a temporary file: a sealing cut short leaves the journal as
	// it was, never half of it.
	tmp := path + ".seal"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return nil, fmt.Errorf("sealing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("sealing %s: %w", path, err)
	}
	return ReadFile(path)
}
