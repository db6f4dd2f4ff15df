package cases

import (
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/netpol-conformance/netpol-conformance/internal/strictyaml"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

//go:embed *.yaml
var builtin embed.FS

// Set is a validated collection of case files.
type Set struct {
	Files []*File
	// digest identifies the exact case files, for reports.
	digest string
}

// Digest is "sha256:" and the hash of every file's name and content, in
// load order: two reports with the same digest ran the same cases.
func (s *Set) Digest() string { return s.digest }

// Cases returns every case in file order.
func (s *Set) Cases() []*Case {
	var out []*Case
	for _, f := range s.Files {
		for i := range f.Cases {
			out = append(out, &f.Cases[i])
		}
	}
	return out
}

// Case returns the case with the given name, or nil.
func (s *Set) Case(name string) *Case {
	for _, c := range s.Cases() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Builtin loads the case table shipped in the binary, validated against
// the standard topology.
func Builtin() (*Set, error) {
	return LoadFS(builtin, ".", topology.Standard())
}

// LoadFS loads every *.yaml file of dir in fsys, sorted by name.
func LoadFS(fsys fs.FS, dir string, topo *topology.Topology) (*Set, error) {
	names, sources, err := readFS(fsys, dir)
	if err != nil {
		return nil, err
	}
	return load(names, sources, topo)
}

// readFS reads every *.yaml file of dir in fsys, sorted by name.
func readFS(fsys fs.FS, dir string) ([]string, map[string][]byte, error) {
	names, err := fs.Glob(fsys, filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, nil, fmt.Errorf("listing case files in %s: %w", dir, err)
	}
	sort.Strings(names)
	sources := make(map[string][]byte, len(names))
	for _, name := range names {
		if sources[name], err = fs.ReadFile(fsys, name); err != nil {
			return nil, nil, fmt.Errorf("reading case file %s: %w", name, err)
		}
	}
	return names, sources, nil
}

// LoadPaths loads case files from disk: each path is a YAML file or a
// directory of them (a ConfigMap mount, for instance).
func LoadPaths(paths []string, topo *topology.Topology) (*Set, error) {
	names, sources, err := readPaths(paths)
	if err != nil {
		return nil, err
	}
	return load(names, sources, topo)
}

// LoadBuiltinAndPaths loads the built-in table plus users' case files, all
// validated together: a user's case may not reuse a built-in name.
func LoadBuiltinAndPaths(paths []string, topo *topology.Topology) (*Set, error) {
	names, sources, err := readFS(builtin, ".")
	if err != nil {
		return nil, err
	}
	userNames, userSources, err := readPaths(paths)
	if err != nil {
		return nil, err
	}
	for _, name := range userNames {
		sources[name] = userSources[name]
	}
	return load(append(names, userNames...), sources, topo)
}

func readPaths(paths []string) ([]string, map[string][]byte, error) {
	var names []string
	sources := map[string][]byte{}
	for _, p := range paths {
		files := []string{p}
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, nil, fmt.Errorf("listing case files in %s: %w", p, err)
			}
			files = files[:0]
			for _, e := range entries {
				// A ConfigMap mount also holds hidden ..data links.
				if !strings.HasPrefix(e.Name(), ".") && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, fmt.Errorf("reading case file: %w", err)
			}
			names = append(names, f)
			sources[f] = data
		}
	}
	return names, sources, nil
}

func load(names []string, sources map[string][]byte, topo *topology.Topology) (*Set, error) {
	set := &Set{}
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", path.Base(name), len(sources[name]))
		h.Write(sources[name])
	}
	set.digest = fmt.Sprintf("sha256:%x", h.Sum(nil))
	var errs []error
	seen := map[string]string{}
	for _, name := range names {
		f, err := Parse(name, sources[name], topo)
		if err != nil {
			errs = append(errs, err)
		}
		if f == nil {
			continue
		}
		for _, c := range f.Cases {
			if prev, dup := seen[c.Name]; dup && c.Name != "" {
				errs = append(errs, &Problem{File: name, Case: c.Name, Field: "name", Detail: fmt.Sprintf("duplicate case name, also in %s: case names must be unique across the table", prev)})
			}
			seen[c.Name] = name
		}
		set.Files = append(set.Files, f)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return set, nil
}

// Parse decodes and validates one case file. It reports every problem at
// once; the returned File is nil only when the YAML cannot be decoded.
func Parse(name string, data []byte, topo *topology.Topology) (*File, error) {
	f := &File{Source: name}
	fieldErrs, err := strictyaml.Decode(data, f)
	if err != nil {
		var fe strictyaml.FieldError
		if errors.As(err, &fe) {
			return nil, problemAt(name, f, fe.Path, fe.Detail)
		}
		return nil, &Problem{File: name, Detail: err.Error()}
	}
	var problems []error
	for _, fe := range fieldErrs {
		problems = append(problems, problemAt(name, f, fe.Path, fe.Detail))
	}
	for _, p := range validateFile(f, topo) {
		problems = append(problems, p)
	}
	for i := range f.Cases {
		f.Cases[i].Family = f.Family
	}
	return f, errors.Join(problems...)
}

// problemAt turns a path such as "cases[3].policies[0].spec" into a
// Problem naming case 3.
func problemAt(file string, f *File, path, detail string) *Problem {
	p := &Problem{File: file, Field: path, Detail: detail}
	var idx int
	if _, err := fmt.Sscanf(path, "cases[%d]", &idx); err == nil && idx >= 0 && idx < len(f.Cases) {
		p.Case = f.Cases[idx].Name
		if rest, ok := strings.CutPrefix(path, fmt.Sprintf("cases[%d]", idx)); ok {
			p.Field = strings.TrimPrefix(rest, ".")
		}
	}
	return p
}

// Problem is one thing wrong in a case file, located by file, case and
// field.
type Problem struct {
	File   string
	Case   string
	Field  string
	Detail string
}

func (p *Problem) Error() string {
	parts := []string{p.File}
	if p.Case != "" {
		parts = append(parts, fmt.Sprintf("case %q", p.Case))
	}
	if p.Field != "" {
		parts = append(parts, p.Field)
	}
	return strings.Join(parts, ": ") + ": " + p.Detail
}

// BuiltinFS returns the embedded case files, for loading them against a
// topology other than the standard one.
func BuiltinFS() fs.FS { return builtin }
