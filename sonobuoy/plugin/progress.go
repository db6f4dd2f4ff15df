package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/results"
)

// progressUpdate is the body Sonobuoy's worker takes on its progress port
// (Sonobuoy's aggregation.ProgressUpdate): `sonobuoy status` shows
// completed as passed, len(failures) as failed and total - completed -
// len(failures) as remaining (as measured: completed counts only what did
// not fail, as the e2e framework's reporter counts it).
type progressUpdate struct {
	Message   string   `json:"msg"`
	Total     int      `json:"total"`
	Completed int      `json:"completed"`
	Failures  []string `json:"failures,omitempty"`
}

// How the journal is watched and updates are posted.
const (
	progressPoll = time.Second
	// postTimeout bounds one post; a worker that is not listening yet is
	// retried at the next poll, so no update is lost, only delayed.
	postTimeout = 5 * time.Second
)

// progressOf is the update for a journal read so far: one completed case
// per recorded case, failures as the verdict classes say (so a known
// deviation is not shown as a failure that the final report then passes).
func progressOf(rec *record.Run, set profiles.Set) progressUpdate {
	run := results.FromRecord("progress", rec, set)
	// Skipped cases are neither passed nor remaining: Sonobuoy would
	// count them as passed, so they leave the total and say so in msg.
	skipped := run.Counts()[results.Skipped]
	u := progressUpdate{Total: len(rec.Start.Planned) - skipped, Failures: []string{}}
	for _, c := range run.Cases {
		switch {
		case c.Verdict.Failing(rec.Start.Strict):
			u.Failures = append(u.Failures, c.Name)
		case c.Verdict != results.Skipped:
			u.Completed++
		}
	}
	u.Message = fmt.Sprintf("%d of %d cases done, %d failing, %d skipped", u.Completed+len(u.Failures), u.Total, len(u.Failures), skipped)
	if len(run.Cases) > 0 {
		last := run.Cases[len(run.Cases)-1]
		u.Message += fmt.Sprintf("; last: %s %s", last.Name, last.Verdict)
	}
	return u
}

// progressPoster posts the journal's progress to Sonobuoy's worker as the
// suite writes it: one update per finished case, from the real run only
// (the journal holds nothing else), retried until the worker takes it.
type progressPoster struct {
	url     string
	journal string
	set     profiles.Set
	client  *http.Client
	log     io.Writer
	// posted is the last update the worker took.
	posted *progressUpdate
	// refused counts posts the worker did not take, logged once.
	refused int
}

func newProgressPoster(url, journal string, set profiles.Set, log io.Writer) *progressPoster {
	return &progressPoster{url: url, journal: journal, set: set, log: log, client: &http.Client{Timeout: postTimeout}}
}

// run polls until ctx ends, then posts the final state once more.
func (p *progressPoster) run(ctx context.Context) {
	t := time.NewTicker(progressPoll)
	defer t.Stop()
	for {
		p.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll posts the journal's state when it differs from what was posted.
func (p *progressPoster) poll(ctx context.Context) {
	rec, err := record.ReadFile(p.journal)
	if err != nil {
		// Not written yet, or mid-write: the next poll sees it.
		return
	}
	u := progressOf(rec, p.set)
	if p.posted != nil && p.posted.Message == u.Message && p.posted.Completed == u.Completed {
		return
	}
	if err := p.post(ctx, u); err != nil {
		if p.refused == 0 {
			fmt.Fprintf(p.log, "netpol-conformance plugin: progress update not taken yet, retrying: %v\n", err)
		}
		p.refused++
		return
	}
	p.posted = &u
}

func (p *progressPoster) post(ctx context.Context, u progressUpdate) error {
	body, err := json.Marshal(u)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s: %s", p.url, resp.Status)
	}
	return nil
}

// finalPost posts the completed run once, with its own short deadline: the
// suite's context is over by then.
func (p *progressPoster) finalPost(rec *record.Run) {
	ctx, cancel := context.WithTimeout(context.Background(), postTimeout)
	defer cancel()
	u := progressOf(rec, p.set)
	if !rec.Finished() || rec.End.Interrupted != "" {
		u.Message = "incomplete run: " + u.Message
	}
	if err := p.post(ctx, u); err != nil && !os.IsTimeout(err) {
		fmt.Fprintf(p.log, "netpol-conformance plugin: final progress update not taken: %v\n", err)
	}
}
