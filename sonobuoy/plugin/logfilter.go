package plugin

import (
	"bytes"
	"io"
	"regexp"
)

// ginkgoSummary matches Ginkgo's closing line, "SUCCESS! -- 9 Passed | 0
// Failed | 0 Pending | 95 Skipped".
var ginkgoSummary = regexp.MustCompile(`^(SUCCESS|FAIL)! -- (\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped`)

// summaryWriter passes the suite's output through line by line, saying
// Ginkgo's closing line without the word "Failed": Sonobuoy counts every
// line matching [fF]ailed as an error of the plugin, and a run where
// nothing failed must not show one. Every other line is unchanged.
type summaryWriter struct {
	w   io.Writer
	buf []byte
}

func (s *summaryWriter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := s.buf[:i+1]
		if m := ginkgoSummary.FindSubmatchIndex(line); m != nil {
			line = ginkgoSummary.Expand(nil, []byte("$1! -- $2 passed, $3 failing, $4 pending, $5 skipped"), line, m)
			line = append(line, s.buf[m[1]:i+1]...)
		}
		if _, err := s.w.Write(line); err != nil {
			return len(p), err
		}
		s.buf = s.buf[i+1:]
	}
}

// Flush writes what is left of an unfinished last line.
func (s *summaryWriter) Flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = nil
	return err
}
