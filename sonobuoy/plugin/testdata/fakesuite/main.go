// Command fakesuite stands in for the compiled Ginkgo suite in the plugin
// entrypoint's tests. FAKE_SUITE_MODE picks the behaviour under test; it
// records its command line in $FAKE_SUITE_ARGS_FILE when that is set.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const passing = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" disabled="0" errors="0" failures="0" time="1.5">
  <testsuite name="netpol" package="/suite" tests="2" disabled="0" skipped="0" errors="0" failures="0" time="1.5">
    <testcase name="[It] deny-all-ingress-in-x" classname="netpol" status="passed" time="0.7"></testcase>
    <testcase name="[It] and-vs-or-one-peer" classname="netpol" status="passed" time="0.8"></testcase>
  </testsuite>
</testsuites>
`

const failing = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="1" disabled="0" errors="0" failures="1" time="1">
  <testsuite name="netpol" package="/suite" tests="1" disabled="0" skipped="0" errors="0" failures="1" time="1">
    <testcase name="[It] and-vs-or-one-peer" classname="netpol" status="failed" time="1">
      <failure message="observed differs from expected" type="failed">x/a -> y/b 80/TCP: expected X, observed .</failure>
    </testcase>
  </testsuite>
</testsuites>
`

const allSkipped = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" disabled="0" errors="0" failures="0" time="0">
  <testsuite name="netpol" package="/suite" tests="3" disabled="0" skipped="2" errors="0" failures="0" time="0">
    <testcase name="NetworkPolicy is enforced at all" classname="netpol" status="passed" time="1"></testcase>
    <testcase name="[It] deny-all-ingress-in-x" classname="netpol" status="skipped" time="0"><skipped message="skipped"></skipped></testcase>
    <testcase name="[It] and-vs-or-one-peer" classname="netpol" status="skipped" time="0"><skipped message="skipped"></skipped></testcase>
  </testsuite>
</testsuites>
`

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
	write := func(s string) {
		if err := os.WriteFile(report, []byte(s), 0o644); err != nil {
			fail(err)
		}
	}
	fmt.Println("Running Suite: netpol")
	switch mode := os.Getenv("FAKE_SUITE_MODE"); mode {
	case "pass":
		write(passing)
	case "fail":
		write(failing)
		os.Exit(1)
	case "panic":
		fmt.Println("unable to load the kubeconfig")
		panic("framework: no cluster")
	case "oom":
		fmt.Println("probing 9x9 matrix")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	case "empty":
		write(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<testsuites tests="0"><testsuite name="netpol" tests="0"></testsuite></testsuites>` + "\n")
	case "all-skipped":
		write(allSkipped)
	case "corrupt":
		write("<testsuites><testsuite")
	case "hang":
		// As Ginkgo does: on SIGTERM, abort, report and exit 1.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		fmt.Println("ready")
		<-sig
		fmt.Println("interrupted")
		write(failing)
		os.Exit(1)
	case "stubborn":
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
