// Command fakesuite stands in for the compiled Ginkgo suite in the tests of
// the plugin entrypoint's own mechanics (arguments, exit codes, signals,
// grace periods). It writes the run's journal as the real suite does;
// FAKE_SUITE_MODE picks the behaviour under test, and it records its
// command line in $FAKE_SUITE_ARGS_FILE when that is set. What the real
// suite does under faults is tested with the real suite (realsuite_test.go).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netpol-conformance/netpol-conformance/record"
)

var planned = []record.Planned{{Name: record.EnforcementCheck}, {Name: "deny-all-ingress-in-x"}, {Name: "and-vs-or-one-peer"}}

func main() {
	report := ""
	for _, a := range os.Args[1:] {
		if v, ok := strings.CutPrefix(a, "--netpol.junit-report="); ok {
			report = v
		}
	}
	if f := os.Getenv("FAKE_SUITE_ARGS_FILE"); f != "" {
		if err := os.WriteFile(f, []byte(strings.Join(os.Args[1:], "\n")+"\n"), 0o644); err != nil {
			fail(err)
		}
	}
	var j *record.Journal
	open := func() {
		var err error
		j, err = record.Create(filepath.Join(filepath.Dir(report), record.JournalFile), record.Start{RunID: "fake", Planned: planned, Started: metav1.Now()})
		if err != nil {
			fail(err)
		}
	}
	add := func(name string, o record.Outcome, msg string) {
		if err := j.Append(record.Entry{Case: &record.Case{Name: name, Outcome: o, Message: msg, Detail: msg}}); err != nil {
			fail(err)
		}
	}
	end := func() {
		if err := j.Append(record.Entry{End: &record.End{Finished: metav1.Now()}}); err != nil {
			fail(err)
		}
	}
	fmt.Println("Running Suite: netpol")
	switch mode := os.Getenv("FAKE_SUITE_MODE"); mode {
	case "pass":
		open()
		add(record.EnforcementCheck, record.Passed, "")
		add("deny-all-ingress-in-x", record.Passed, "")
		add("and-vs-or-one-peer", record.Passed, "")
		end()
	case "fail":
		open()
		add(record.EnforcementCheck, record.Passed, "")
		add("deny-all-ingress-in-x", record.Passed, "")
		add("and-vs-or-one-peer", record.Departed, "x/a -> y/b 80/TCP: expected X, observed .")
		end()
		os.Exit(1)
	case "panic":
		fmt.Println("unable to load the kubeconfig")
		panic("framework: no cluster")
	case "oom":
		open()
		add(record.EnforcementCheck, record.Passed, "")
		fmt.Println("probing 9x9 matrix")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	case "empty":
		// The filters selected nothing.
		planned = nil
		open()
		end()
	case "all-skipped":
		open()
		add(record.EnforcementCheck, record.Passed, "")
		add("deny-all-ingress-in-x", record.Skipped, "skipped")
		add("and-vs-or-one-peer", record.Skipped, "skipped")
		end()
	case "corrupt":
		if err := os.WriteFile(filepath.Join(filepath.Dir(report), record.JournalFile), []byte("{\"start\":\n"), 0o644); err != nil {
			fail(err)
		}
	case "hang":
		// As Ginkgo does: on SIGTERM, abort, report and exit 1.
		open()
		add(record.EnforcementCheck, record.Passed, "")
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		fmt.Println("ready")
		<-sig
		fmt.Println("interrupted")
		add("deny-all-ingress-in-x", record.Errored, "interrupted by a signal")
		if err := j.Append(record.Entry{End: &record.End{Finished: metav1.Now(), Interrupted: "the suite stopped early: Interrupted by User"}}); err != nil {
			fail(err)
		}
		os.Exit(1)
	case "stubborn":
		open()
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Minute)
	default:
		fail(fmt.Errorf("unknown FAKE_SUITE_MODE %q", mode))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(3)
}
