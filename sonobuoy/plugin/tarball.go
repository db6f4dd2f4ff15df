package plugin

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// tarResults writes every regular file of dir (the JUnit report, the suite's
// log and whatever reports the suite wrote next to them) into a gzipped
// tarball at out, paths relative to dir. The tarball itself and the done
// file are left out. It is written under a temporary name and renamed so a
// reader never sees half of it.
func tarResults(dir, out string) (err error) {
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("creating results tarball: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	skip := map[string]bool{out: true, tmp: true, filepath.Join(dir, DoneFile): true, filepath.Join(dir, "."+DoneFile+".tmp"): true}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if skip[path] || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		return addFile(tw, path, filepath.ToSlash(rel))
	})
	if err != nil {
		return fmt.Errorf("archiving %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finishing results tarball: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("finishing results tarball: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing results tarball: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("writing results tarball: %w", err)
	}
	return nil
}

func addFile(tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	hdr.Name = name
	// Ownership inside the pod means nothing to whoever unpacks the results.
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// Copy exactly the size in the header: a file still being appended to
	// must not make the archive inconsistent.
	_, err = io.CopyN(tw, f, hdr.Size)
	return err
}
