// Package strictyaml decodes YAML into API types the way the API server's
// strict field validation does: case-sensitive JSON field names, and every
// unknown or duplicated field reported, not just the first.
package strictyaml

import (
	"encoding/json"
	"errors"
	"fmt"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Unmarshal decodes one YAML document into v. A malformed document returns
// a single error; a well-formed one with unknown or duplicate fields returns
// all of them joined, each naming the field's path. v holds the decoded
// value in both of the latter cases so callers can keep validating.
func Unmarshal(data []byte, v any) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("invalid YAML: %w", err)
	}
	strictErrs, err := kjson.UnmarshalStrict(js, v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return explain(err)
	}
	return errors.Join(strictErrs...)
}

// explain adds the fix to the decoding error YAML users hit most: YAML 1.1
// reads unquoted y, n, yes, no, on and off as booleans, so a label such as
// "ns: y" (the standard topology's namespace y) is not a string.
func explain(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Value == "bool" {
		field := typeErr.Field
		if field == "" {
			field = "a map value"
		}
		return fmt.Errorf("%s: got a boolean where a string is expected; YAML reads unquoted y, n, yes, no, on, off, true and false as booleans: quote the value (\"y\"): %w", field, err)
	}
	return err
}
