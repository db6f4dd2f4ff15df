package proc

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseStartTime(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{"plain", "123 (etcd) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 20 21", 4242, false},
		{"comm with spaces and parens", "9 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 77 20", 77, false},
		{"zombie", "9 (x) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 77 20", 0, true},
		{"short", "9 (x) S 1 2", 0, true},
		{"garbage", "no parens", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStartTime(tt.stat)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	s := &Supervisor{RunDir: filepath.Join(dir, "run"), LogDir: filepath.Join(dir, "logs")}
	p, err := s.Start(Spec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"30"}})
	if err != nil {
		t.Fatal(err)
	}
	if pid, ok := s.Running("sleeper"); !ok || pid != p.Pid {
		t.Fatalf("Running = %d,%v; want %d,true", pid, ok, p.Pid)
	}
	if _, err := s.Start(Spec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"30"}}); err == nil {
		t.Fatal("second Start of a running process succeeded")
	}
	if err := s.Stop("sleeper", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	<-p.Exited
	if _, ok := s.Running("sleeper"); ok {
		t.Fatal("still running after Stop")
	}
	if _, err := os.Stat(filepath.Join(s.RunDir, "sleeper.pid")); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
	// Stopping what is not running is safe.
	if err := s.Stop("sleeper", time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestStalePidFileIsIgnored(t *testing.T) {
	dir := t.TempDir()
	s := &Supervisor{RunDir: dir, LogDir: dir}
	// pid 1 exists, but it did not start at this tick: the record is stale.
	if err := os.WriteFile(filepath.Join(dir, "ghost.pid"), []byte("1 99999999999 /bin/ghost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Running("ghost"); ok {
		t.Fatal("stale pid file reported as running")
	}
	if err := s.Stop("ghost", time.Second); err != nil {
		t.Fatal(err)
	}
}
