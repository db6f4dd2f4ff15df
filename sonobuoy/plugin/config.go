// Package plugin is the entrypoint of the netpol-conformance Sonobuoy plugin
// (`netpol-conformance plugin run`): it turns the plugin's environment into
// the suite's flags, runs the compiled Ginkgo suite, and then always leaves
// what Sonobuoy's worker waits for in the results directory: a JUnit report
// and a `done` file naming the results tarball.
//
// "Always" is the point of this package. Sonobuoy counts a JUnit file with no
// test cases as a pass, and a plugin that never writes `done` is only
// noticed when the run times out; so when the suite crashes, is killed or is
// misconfigured before any spec ran, the report holds one failing test case
// that says what happened.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/netpol-conformance/netpol-conformance/agent"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/results"
)

// Environment variables the plugin reads. NETPOL_* are our knobs, settable
// with `sonobuoy run --plugin-env netpol-conformance.NAME=VALUE`; SONOBUOY_*
// are set by Sonobuoy itself in every plugin container.
const (
	EnvCases              = "NETPOL_CASES"
	EnvTags               = "NETPOL_TAGS"
	EnvProbeTimeout       = "NETPOL_PROBE_TIMEOUT"
	EnvConvergenceTimeout = "NETPOL_CONVERGENCE_TIMEOUT"
	EnvProtocols          = "NETPOL_PROTOCOLS"
	EnvAgentImage         = "NETPOL_AGENT_IMAGE"
	EnvGinkgoTimeout      = "NETPOL_GINKGO_TIMEOUT"
	EnvCNI                = "NETPOL_CNI"
	EnvStrict             = "NETPOL_STRICT"
	EnvNodeProbes         = "NETPOL_NODE_PROBES"
	EnvAgentPullSecrets   = "NETPOL_AGENT_PULL_SECRETS"
	EnvAgentNodeSelector  = "NETPOL_AGENT_NODE_SELECTOR"
	EnvAgentTolerations   = "NETPOL_AGENT_TOLERATIONS"
	EnvAgentResources     = "NETPOL_AGENT_RESOURCES"
	EnvResultsDir         = "SONOBUOY_RESULTS_DIR"
	EnvConfigDir          = "SONOBUOY_CONFIG_DIR"
	EnvProgressPort       = "SONOBUOY_PROGRESS_PORT"
)

// Knob is one setting of the plugin, as `sonobuoy run --plugin-env
// netpol-conformance.NAME=VALUE` sets it.
type Knob struct {
	Env, Help string
}

// Knobs lists every knob once: the help text, plugin.yaml's env (a test
// keeps it complete) and the README are written from it.
var Knobs = []Knob{
	{EnvCases, "regular expression over case names"},
	{EnvTags, `tag expression (e.g. "ingress && !sctp")`},
	{EnvProbeTimeout, "bound on one probe (e.g. 1s; at least 100ms)"},
	{EnvConvergenceTimeout, "bound on waiting for enforcement per step (e.g. 30s)"},
	{EnvProtocols, "comma-separated subset of TCP,UDP,SCTP"},
	{EnvAgentImage, "image of the prober pods (default: the plugin pod's own image)"},
	{EnvAgentPullSecrets, "image pull secrets of the prober pods, NAME,... (default: the plugin pod's own)"},
	{EnvAgentNodeSelector, "node selector of the prober pods, KEY=VALUE,... (kubernetes.io/os=linux always)"},
	{EnvAgentTolerations, "tolerations of the prober pods, KEY[=VALUE]:EFFECT,... or * for every taint"},
	{EnvAgentResources, "resources of the prober pods over requests.cpu=10m,requests.memory=32Mi,limits.memory=256Mi"},
	{EnvGinkgoTimeout, "bound on the whole suite (default " + DefaultGinkgoTimeout.String() + ")"},
	{EnvCNI, "the CNI as NAME or NAME@VERSION, when detection cannot tell (its profile explains failures only with a version)"},
	{EnvStrict, "true: known deviations fail the run too"},
	{EnvNodeProbes, "false: do not probe from the nodes (one host-network pod per node, in a namespace of Pod Security privileged)"},
}

// Defaults, as Sonobuoy documents its directories.
const (
	DefaultResultsDir = "/tmp/sonobuoy/results"
	DefaultConfigDir  = "/tmp/sonobuoy/config"
	// DefaultSuiteBinary is where the image holds the compiled suite.
	DefaultSuiteBinary = "/netpol-suite"
	// DefaultGinkgoTimeout bounds the whole suite. The target for
	// the whole table is 10 minutes; a slow CNI converging at the edge of
	// every case's convergence timeout needs far more, and Ginkgo's own
	// default (1h) would be an accident rather than a decision.
	DefaultGinkgoTimeout = 60 * time.Minute
	// DefaultStopGrace exceeds the 30 s Ginkgo takes after an interrupt to
	// abort the running spec and run its cleanup (deleting the run's
	// namespaces), so the suite is killed only when it is stuck; the
	// plugin's pod gets a grace period longer still (plugin.yaml's
	// podSpec, checked by a test).
	DefaultStopGrace = 45 * time.Second
)

// File names in the results directory.
const (
	// JUnitFile is the report Sonobuoy parses (plugin.yaml's result-files).
	JUnitFile = results.JUnitFile
	// SuiteLogFile holds the suite's stdout and stderr.
	SuiteLogFile = "suite.log"
	// TarballFile is what the done file names.
	TarballFile = "netpol-conformance-results.tar.gz"
	// DoneFile is the file Sonobuoy's worker polls for.
	DoneFile = "done"
)

// Config is what one plugin run does.
type Config struct {
	SuiteBinary string
	ResultsDir  string
	// ConfigDir is where Sonobuoy mounts the plugin's ConfigMap; YAML files
	// there are extra case files.
	ConfigDir string
	// ProgressPort is where Sonobuoy's worker takes progress updates.
	ProgressPort string

	Cases              string // regular expression over case names
	Tags               string // tag expression, translated by the suite
	ProbeTimeout       time.Duration
	ConvergenceTimeout time.Duration
	Protocols          []string
	AgentImage         string
	// AgentPullSecrets, AgentNodeSelector, AgentTolerations and
	// AgentResources place the prober pods (cluster.ParseAgentPlacement).
	AgentPullSecrets, AgentNodeSelector, AgentTolerations, AgentResources string
	GinkgoTimeout                                                         time.Duration
	// CNI names the enforcer ("name" or "name@version") instead of
	// detecting it.
	CNI string
	// Strict fails known deviations too.
	Strict bool
	// NoNodeProbes leaves out the probes from the nodes.
	NoNodeProbes bool

	// ExtraArgs are appended to the suite's command line verbatim.
	ExtraArgs []string
	// Cleanup deletes what a run left in the cluster (its namespaces, by
	// run id) and returns what it deleted; the entrypoint calls it after
	// every suite, since a suite that was killed could not. Nil: none.
	Cleanup func(ctx context.Context, runID string) ([]string, error)

	// StopGrace is how long the suite has after SIGTERM to abort its spec,
	// clean up and write its report before it is killed (default
	// DefaultStopGrace).
	StopGrace time.Duration
}

// knownProtocols are the protocols NetworkPolicy ports can name.
var knownProtocols = map[string]bool{"TCP": true, "UDP": true, "SCTP": true}

// ConfigFromEnv reads the plugin's environment through getenv (os.Getenv in
// production). Every invalid value is reported at once, each naming its
// variable, so one failed run shows the user everything to fix.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		SuiteBinary:  DefaultSuiteBinary,
		ResultsDir:   orDefault(getenv(EnvResultsDir), DefaultResultsDir),
		ConfigDir:    orDefault(getenv(EnvConfigDir), DefaultConfigDir),
		ProgressPort: orDefault(getenv(EnvProgressPort), "8099"),
		Cases:        strings.TrimSpace(getenv(EnvCases)),
		Tags:         strings.TrimSpace(getenv(EnvTags)),
		AgentImage:   strings.TrimSpace(getenv(EnvAgentImage)),

		AgentPullSecrets:  strings.TrimSpace(getenv(EnvAgentPullSecrets)),
		AgentNodeSelector: strings.TrimSpace(getenv(EnvAgentNodeSelector)),
		AgentTolerations:  strings.TrimSpace(getenv(EnvAgentTolerations)),
		AgentResources:    strings.TrimSpace(getenv(EnvAgentResources)),
		CNI:               strings.TrimSpace(getenv(EnvCNI)),
		GinkgoTimeout:     DefaultGinkgoTimeout,
	}
	var errs []error
	if c.Cases != "" {
		if _, err := regexp.Compile(c.Cases); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a regular expression: %w", EnvCases, c.Cases, err))
		}
	}
	duration := func(name string, into *time.Duration) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s=%q is not a duration such as 90s or 5m: %w", name, v, err))
		case d <= 0:
			errs = append(errs, fmt.Errorf("%s=%q must be positive", name, v))
		default:
			*into = d
		}
	}
	duration(EnvProbeTimeout, &c.ProbeTimeout)
	if c.ProbeTimeout > 0 && c.ProbeTimeout < agent.MinTimeout {
		errs = append(errs, fmt.Errorf("%s=%s is below the floor of %s: a probe that short reads slow answers as denials", EnvProbeTimeout, c.ProbeTimeout, agent.MinTimeout))
	}
	duration(EnvConvergenceTimeout, &c.ConvergenceTimeout)
	duration(EnvGinkgoTimeout, &c.GinkgoTimeout)
	boolean := func(name string, unset bool) bool {
		switch v := strings.TrimSpace(getenv(name)); v {
		case "":
			return unset
		case "true", "false":
			return v == "true"
		default:
			errs = append(errs, fmt.Errorf("%s=%q: want true or false", name, v))
			return unset
		}
	}
	c.Strict = boolean(EnvStrict, false)
	c.NoNodeProbes = !boolean(EnvNodeProbes, true)
	if v := strings.TrimSpace(getenv(EnvProtocols)); v != "" {
		for _, p := range strings.Split(v, ",") {
			p = strings.ToUpper(strings.TrimSpace(p))
			if !knownProtocols[p] {
				errs = append(errs, fmt.Errorf("%s=%q: unknown protocol %q (want a comma-separated list of TCP, UDP, SCTP)", EnvProtocols, v, p))
				continue
			}
			c.Protocols = append(c.Protocols, p)
		}
	}
	return c, errors.Join(errs...)
}

func orDefault(v, def string) string {
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return def
}

// JUnitPath is where the suite is told to write its report.
func (c Config) JUnitPath() string { return filepath.Join(c.ResultsDir, JUnitFile) }

// JournalPath is where the suite writes the run's record, next to its
// report.
func (c Config) JournalPath() string { return filepath.Join(c.ResultsDir, record.JournalFile) }

// SuiteArgs is the suite's command line for c. caseFiles says whether the
// config dir holds case files. Our knobs are passed only when set, so the
// suite's own defaults stay the single source of truth for the rest.
func (c Config) SuiteArgs(caseFiles bool) []string {
	args := []string{
		"--netpol.junit-report=" + c.JUnitPath(),
		"--ginkgo.timeout=" + c.GinkgoTimeout.String(),
		// The spec-by-spec log is what a user reads in suite.log when a
		// case fails; it costs nothing next to the probes.
		"--ginkgo.v",
		// suite.log and the JUnit failure text are read as plain files.
		"--ginkgo.no-color",
	}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, "--netpol."+flag+"="+v)
		}
	}
	add("cases", c.Cases)
	if c.Tags != "" {
		// Tags are Ginkgo labels. The enforcement check stays selected so
		// a cluster that enforces nothing still says so in one line.
		args = append(args, "--ginkgo.label-filter=("+c.Tags+") || enforcement")
	}
	if c.ProbeTimeout > 0 {
		add("probe-timeout", c.ProbeTimeout.String())
	}
	if c.ConvergenceTimeout > 0 {
		add("convergence-timeout", c.ConvergenceTimeout.String())
	}
	add("protocols", strings.Join(c.Protocols, ","))
	add("agent-image", c.AgentImage)
	add("agent-pull-secrets", c.AgentPullSecrets)
	add("agent-node-selector", c.AgentNodeSelector)
	add("agent-tolerations", c.AgentTolerations)
	add("agent-resources", c.AgentResources)
	add("cni", c.CNI)
	if c.Strict {
		add("strict", "true")
	}
	if c.NoNodeProbes {
		add("node-probes", "false")
	}
	if caseFiles {
		add("case-dir", c.ConfigDir)
	}
	return append(args, c.ExtraArgs...)
}

// CaseFiles lists the YAML files in the config dir, sorted. A missing dir is
// no error: Sonobuoy mounts it only when the plugin has a ConfigMap. Hidden
// entries are skipped: a ConfigMap volume holds its keys as symlinks into a
// `..data` directory that must not be read twice.
func (c Config) CaseFiles() ([]string, error) {
	entries, err := os.ReadDir(c.ConfigDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading config dir %s: %w", c.ConfigDir, err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		if ext := filepath.Ext(n); ext == ".yaml" || ext == ".yml" {
			files = append(files, filepath.Join(c.ConfigDir, n))
		}
	}
	sort.Strings(files)
	return files, nil
}
