// Package proc starts and stops the host processes of the local cluster.
//
// Every process is started detached (its own session, stdin from /dev/null,
// stdout and stderr to a log file) so it outlives the `local up` command, and
// is recorded in a pid file together with its kernel start time. Stop only
// ever signals a pid whose start time still matches the record: a pid that was
// reused by an unrelated process after ours exited is left alone.
package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/nodens"
)

// Spec describes one host process.
type Spec struct {
	// Name identifies the process in pid and log file names and messages.
	Name string
	// Path is the executable; Args exclude argv[0].
	Path string
	Args []string
	// Env is added to the harness's own environment.
	Env []string
	// Ports are TCP addresses ("127.0.0.1:2379") the process will listen
	// on; Start refuses to start it while any of them is taken.
	Ports []string
	// NetNS pins the network namespace the process runs in (a node's),
	// where its Ports are checked; empty for the host's.
	NetNS string
}

// Supervisor keeps pid files in RunDir and logs in LogDir.
type Supervisor struct {
	RunDir string
	LogDir string
}

// ComponentError reports a component that failed, with the end of its log.
type ComponentError struct {
	Component string
	LogPath   string
	Err       error
}

func (e *ComponentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed: %v", e.Component, e.Err)
	if e.LogPath != "" {
		fmt.Fprintf(&b, "\n--- last lines of %s ---\n%s--- end of %s ---", e.LogPath, TailFile(e.LogPath, 25), e.LogPath)
	}
	return b.String()
}

func (e *ComponentError) Unwrap() error { return e.Err }

// LogPath is where the named component's output goes.
func (s *Supervisor) LogPath(name string) string { return filepath.Join(s.LogDir, name+".log") }

func (s *Supervisor) pidPath(name string) string { return filepath.Join(s.RunDir, name+".pid") }

// Process is a started component. Exited is closed when it exits while the
// starting command is still running.
type Process struct {
	Name   string
	Pid    int
	Exited <-chan struct{}
	err    *error
}

// ExitErr returns why the process exited; only valid after Exited is closed.
func (p *Process) ExitErr() error {
	if *p.err == nil {
		return errors.New("exited with status 0")
	}
	return *p.err
}

// Start launches spec detached and records its pid file.
func (s *Supervisor) Start(spec Spec) (*Process, error) {
	if pid, ok := s.Running(spec.Name); ok {
		return nil, fmt.Errorf("%s is already running as pid %d (run `local down` first)", spec.Name, pid)
	}
	for _, addr := range spec.Ports {
		free := PortFree
		if spec.NetNS != "" {
			free = func(addr string) error { return nodens.PortFree(spec.NetNS, addr) }
		}
		if err := free(addr); err != nil {
			return nil, &ComponentError{Component: spec.Name, Err: err}
		}
	}
	for _, d := range []string{s.RunDir, s.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	logPath := s.LogPath(spec.Name)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", spec.Name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== %s starting %s %s\n", time.Now().Format(time.RFC3339), spec.Path, strings.Join(spec.Args, " "))

	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Own session: the process survives `local up` and a Ctrl-C on it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, &ComponentError{Component: spec.Name, LogPath: logPath, Err: fmt.Errorf("starting %s: %w", spec.Path, err)}
	}
	start, err := startTime(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("reading start time of %s: %w", spec.Name, err)
	}
	rec := fmt.Sprintf("%d %d %s\n", cmd.Process.Pid, start, spec.Path)
	if err := os.WriteFile(s.pidPath(spec.Name), []byte(rec), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("writing pid file of %s: %w", spec.Name, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	return &Process{Name: spec.Name, Pid: cmd.Process.Pid, Exited: exited, err: &waitErr}, nil
}

// Running reports whether the process recorded under name is alive.
func (s *Supervisor) Running(name string) (int, bool) {
	pid, start, err := s.readPid(name)
	if err != nil {
		return 0, false
	}
	got, err := startTime(pid)
	return pid, err == nil && got == start
}

// Recorded lists the names that have a pid file.
func (s *Supervisor) Recorded() []string {
	matches, _ := filepath.Glob(filepath.Join(s.RunDir, "*.pid"))
	var names []string
	for _, m := range matches {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".pid"))
	}
	return names
}

// Stop sends SIGTERM to the recorded process, then SIGKILL after grace, and
// removes the pid file. A missing or stale pid file is not an error.
func (s *Supervisor) Stop(name string, grace time.Duration) error {
	pid, ok := s.Running(name)
	if ok {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signalling %s (pid %d): %w", name, pid, err)
		}
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) {
			if _, alive := s.Running(name); !alive {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, alive := s.Running(name); alive {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			for i := 0; i < 50; i++ {
				if _, alive := s.Running(name); !alive {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		if _, alive := s.Running(name); alive {
			return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", name, pid)
		}
	}
	if err := os.Remove(s.pidPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing pid file of %s: %w", name, err)
	}
	return nil
}

func (s *Supervisor) readPid(name string) (pid int, start uint64, err error) {
	data, err := os.ReadFile(s.pidPath(name))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("malformed pid file %s", s.pidPath(name))
	}
	if pid, err = strconv.Atoi(f[0]); err != nil {
		return 0, 0, fmt.Errorf("malformed pid in %s: %w", s.pidPath(name), err)
	}
	if start, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("malformed start time in %s: %w", s.pidPath(name), err)
	}
	return pid, start, nil
}

// startTime returns field 22 of /proc/PID/stat (start time in clock ticks).
func startTime(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStartTime(string(data))
}

func parseStartTime(stat string) (uint64, error) {
	// comm (field 2) may contain spaces and parentheses: split after the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed stat line")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); start time is field 22.
	if len(f) < 20 {
		return 0, errors.New("short stat line")
	}
	// A zombie still has a stat line; treat it as gone.
	if f[0] == "Z" || f[0] == "X" {
		return 0, errors.New("process is a zombie")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// RSS returns the resident set size of pid in bytes.
func RSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

// PortFree fails if something already listens on the TCP address.
func PortFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("port %s is already in use (another cluster or service?): %w", addr, err)
	}
	return l.Close()
}

// TailFile returns the last n lines of a file, or a note why it cannot.
func TailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)\n", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
