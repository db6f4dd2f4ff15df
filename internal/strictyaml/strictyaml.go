// Package strictyaml decodes YAML into API types the way the API server's
// strict field validation does: case-sensitive JSON field names, and every
// unknown or duplicated field reported with its path, not just the first.
package strictyaml

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// FieldError is a problem with one field of a document.
type FieldError struct {
	// Path is the field's JSON path, e.g. "cases[2].policies[0].spec".
	Path   string
	Detail string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Detail
	}
	return e.Path + ": " + e.Detail
}

// Decode decodes one YAML document into v. err is set when the document
// cannot be decoded at all (bad syntax, or a value of the wrong type, which
// leaves v incomplete). Otherwise fieldErrs lists every unknown or duplicate
// field; v then holds everything else, so callers can keep validating.
func Decode(data []byte, v any) (fieldErrs []FieldError, err error) {
	// Strict: a key given twice in one mapping is an error, as the API
	// server's strict decoding makes it, not a silent last-one-wins.
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	strictErrs, err := kjson.UnmarshalStrict(js, v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, explain(err)
	}
	for _, e := range strictErrs {
		fe := FieldError{Detail: e.Error()}
		var pathErr kjson.FieldError
		if errors.As(e, &pathErr) {
			fe.Path = pathErr.FieldPath()
			fe.Detail = "unknown or duplicate field: remove it or fix its spelling"
			if strings.HasPrefix(e.Error(), "duplicate field") {
				fe.Detail = "duplicate field: keep one"
			} else if strings.HasPrefix(e.Error(), "unknown field") {
				fe.Detail = "unknown field: remove it or fix its spelling"
			}
		}
		fieldErrs = append(fieldErrs, fe)
	}
	return fieldErrs, nil
}

// Unmarshal is Decode for callers that want one error: every problem,
// joined.
func Unmarshal(data []byte, v any) error {
	fieldErrs, err := Decode(data, v)
	if err != nil {
		return err
	}
	errs := make([]error, len(fieldErrs))
	for i := range fieldErrs {
		errs[i] = fieldErrs[i]
	}
	return errors.Join(errs...)
}

// explain names the field of a type error and adds the fix for the one
// YAML users hit most: YAML 1.1 reads unquoted y, n, yes, no, on and off as
// booleans, so a label such as "ns: y" (the standard topology's namespace y)
// is not a string.
func explain(err error) error {
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return err
	}
	if typeErr.Value == "bool" && typeErr.Type.Kind() == reflect.String {
		return FieldError{Path: typeErr.Field, Detail: "got a boolean where a string is expected; YAML reads unquoted y, n, yes, no, on, off, true and false as booleans: quote the value, e.g. \"y\""}
	}
	return FieldError{Path: typeErr.Field, Detail: fmt.Sprintf("got %s, want %s", typeErr.Value, typeErr.Type)}
}
