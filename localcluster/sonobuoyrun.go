package localcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// PluginName is the plugin's name in plugin.yaml: Sonobuoy's status and
// results are keyed by it.
const PluginName = "netpol-conformance"

// SonobuoyRun runs plugin.yaml through the Sonobuoy CLI as a user does
// (`run`, `status` until done, `retrieve`, `results`, `delete`), showing
// the plugin's progress case by case while it runs.
type SonobuoyRun struct {
	// Sonobuoy is the CLI's path; Kubeconfig and PluginFile what it runs
	// against and what it runs.
	Sonobuoy, Kubeconfig, PluginFile string
	// CNI is passed as NETPOL_CNI when set; empty leaves the suite to
	// detect the enforcer.
	CNI string
	// PluginImage, when set, replaces plugin.yaml's image (--plugin-image).
	PluginImage string
	// Args are extra `sonobuoy run` flags.
	Args []string
	// OutDir receives the retrieved tarball.
	OutDir string
	// Wait bounds the whole run; Poll is how often status is read.
	Wait, Poll time.Duration
	Out        io.Writer
}

// SonobuoyResult is what a finished run gave.
type SonobuoyResult struct {
	// Tarball is the retrieved results.
	Tarball string
	// Status is the plugin's result status in `sonobuoy results`: passed
	// or failed.
	Status string
}

// sonobuoyStatus is the part of `sonobuoy status --json` read here
// (aggregation.Status of the pinned Sonobuoy; its module is built, not
// imported, so as not to tie our Kubernetes dependencies to its own).
type sonobuoyStatus struct {
	Status  string `json:"status"`
	Plugins []struct {
		Plugin       string `json:"plugin"`
		Status       string `json:"status"`
		ResultStatus string `json:"result-status"`
		Progress     *struct {
			Message   string   `json:"msg"`
			Total     int      `json:"total"`
			Completed int      `json:"completed"`
			Failures  []string `json:"failures"`
		} `json:"progress"`
	} `json:"plugins"`
}

// Run starts the plugin, waits for it, retrieves and prints its results,
// and deletes Sonobuoy's namespace whatever happens.
func (r SonobuoyRun) Run(ctx context.Context) (res *SonobuoyResult, err error) {
	kube := "--kubeconfig=" + r.Kubeconfig
	args := []string{"run", kube, "--plugin", r.PluginFile}
	if r.CNI != "" {
		args = append(args, "--plugin-env", PluginName+".NETPOL_CNI="+r.CNI)
	}
	if r.PluginImage != "" {
		args = append(args, "--plugin-image", PluginName+":"+r.PluginImage)
	}
	args = append(args, r.Args...)
	defer func() {
		// A fresh context: an interrupted run is deleted too. A run left
		// behind fails the command.
		dctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		if _, derr := r.sonobuoy(dctx, "delete", kube, "--wait=3", "--wait-output", "silent"); derr != nil {
			err = errors.Join(err, fmt.Errorf("deleting the Sonobuoy run: %w", derr))
		}
	}()
	if _, err := r.sonobuoy(ctx, args...); err != nil {
		return nil, err
	}
	fmt.Fprintf(r.Out, "sonobuoy run started (%s)\n", strings.Join(args, " "))
	if err := r.wait(ctx, kube); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", r.OutDir, err)
	}
	out, err := r.sonobuoy(ctx, "retrieve", kube, r.OutDir)
	if err != nil {
		return nil, err
	}
	res = &SonobuoyResult{Tarball: strings.TrimSpace(lastLine(out))}
	if _, err := os.Stat(res.Tarball); err != nil {
		return nil, fmt.Errorf("sonobuoy retrieve printed %q, which is not a file: %w", res.Tarball, err)
	}
	summary, err := r.sonobuoy(ctx, "results", res.Tarball)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.Out, "=== sonobuoy results %s\n%s", res.Tarball, summary)
	plugin, err := r.sonobuoy(ctx, "results", res.Tarball, "--plugin", PluginName)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(plugin, "\n") {
		if s, ok := strings.CutPrefix(line, "Status: "); ok {
			res.Status = strings.TrimSpace(s)
			break
		}
	}
	if res.Status == "" {
		return nil, fmt.Errorf("`sonobuoy results --plugin %s` names no status:\n%s", PluginName, plugin)
	}
	return res, nil
}

// wait polls `sonobuoy status` until the run is complete, printing one line
// whenever the plugin's progress changes.
func (r SonobuoyRun) wait(ctx context.Context, kube string) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.Wait)
	defer cancel()
	last := ""
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the Sonobuoy run did not complete within %s (last: %s): %w", r.Wait, last, ctx.Err())
			}
			// Interrupted (a signal), not out of time.
			return fmt.Errorf("stopped waiting for the Sonobuoy run after %s (last: %s): %w", time.Since(start).Round(time.Second), last, ctx.Err())
		case <-time.After(r.Poll):
		}
		// `status --json` prints plain text while the aggregator pod is
		// not running or has not annotated its status yet (exit 0), and
		// exits 1 on a failed run with the JSON printed: its stdout is
		// read either way, and anything but JSON means "not yet".
		out, err := r.sonobuoy(ctx, "status", kube, "--json")
		var st sonobuoyStatus
		line := ""
		if jerr := json.Unmarshal([]byte(out), &st); jerr == nil && st.Status != "" {
			line = progressLine(st)
		} else if err != nil {
			line = "status unavailable: " + firstLine(err.Error())
		} else {
			line = "waiting for the aggregator: " + firstLine(out)
		}
		if line != last {
			fmt.Fprintf(r.Out, "[%s] %s\n", time.Since(start).Round(time.Second), line)
			last = line
		}
		switch st.Status {
		case "complete":
			return nil
		case "failed":
			// The plugin's own failure is in its results; retrieve them.
			return nil
		}
	}
}

// progressLine says where the plugin is, from its progress updates.
func progressLine(st sonobuoyStatus) string {
	for _, p := range st.Plugins {
		if p.Plugin != PluginName {
			continue
		}
		line := "plugin " + p.Status
		if p.ResultStatus != "" {
			line += ", result " + p.ResultStatus
		}
		// The plugin's own message says it all (counts and the last
		// case's verdict); the counts are the fallback.
		switch pr := p.Progress; {
		case pr == nil:
		case pr.Message != "":
			line += ": " + pr.Message
		case pr.Total > 0:
			line += fmt.Sprintf(": %d of %d cases done, %d failed", pr.Completed+len(pr.Failures), pr.Total, len(pr.Failures))
		}
		return line
	}
	return "run " + st.Status + ", plugin not started yet"
}

func (r SonobuoyRun) sonobuoy(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, r.Sonobuoy, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("sonobuoy %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()+"\n"+stdout.String()))
	}
	return stdout.String(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// PluginFile is plugin.yaml in the repository.
func (c *Cluster) PluginFile() string { return filepath.Join(c.opts.RepoRoot, "plugin.yaml") }
