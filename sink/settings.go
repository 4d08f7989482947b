package sink

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Patch holds overridden settings by key (with the "storage.level." prefix). Values are in
// API form: bool, a number, a duration string ("30s"), a size string ("5MB") or a string
// list. A nil value removes the override.
type Patch map[string]any

// ErrProtectedKey: a patch touches a key only the operator may change (HTTP 403).
var ErrProtectedKey = errors.New("cannot modify protected keys")

// ProtectedKeyError names the protected keys a patch touched.
type ProtectedKeyError struct{ Keys []string }

func (e *ProtectedKeyError) Error() string {
	return fmt.Sprintf("cannot modify protected keys: %q", strings.Join(e.Keys, `", "`))
}

// Is matches ErrProtectedKey.
func (e *ProtectedKeyError) Is(target error) bool { return target == ErrProtectedKey }

// Validate checks every key and value of p, one error line per bad key. Unless
// allowProtected, touching a protected key is a *ProtectedKeyError.
func (p Patch) Validate(allowProtected bool) error {
	var errs []error
	var protected []string
	for _, key := range slices.Sorted(maps.Keys(p)) {
		d := findSetting(key)
		if d == nil {
			errs = append(errs, fmt.Errorf("%s: unknown key", key))
			continue
		}
		if d.protected && !allowProtected {
			protected = append(protected, key)
			continue
		}
		if p[key] == nil {
			continue
		}
		if _, err := d.parse(p[key]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	if len(protected) > 0 {
		return &ProtectedKeyError{Keys: protected}
	}
	return errors.Join(errs...)
}

// Merge returns p with update applied: a nil value removes the key.
func (p Patch) Merge(update Patch) Patch {
	out := Patch{}
	for k, v := range p {
		out[k] = v
	}
	for k, v := range update {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// DefaultSettings returns the settings with no patch.
func DefaultSettings() Settings {
	s, err := ResolveSettings(nil, nil)
	if err != nil {
		panic(err) // the defaults are constants checked by tests
	}
	return s
}

// ResolveSettings merges defaults ← source ← sink and validates the result.
func ResolveSettings(source, sink Patch) (Settings, error) {
	var s Settings
	for i := range settingDefs {
		d := &settingDefs[i]
		raw := d.def
		if v, ok := lookup(sink, d.key); ok {
			raw = v
		} else if v, ok := lookup(source, d.key); ok {
			raw = v
		}
		v, err := d.parse(raw)
		if err != nil {
			return Settings{}, fmt.Errorf("%s: %w", prefix+d.key, err)
		}
		if d.apply != nil {
			d.apply(&s, v)
		}
	}
	if err := s.Local.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// SettingView is one key as GET …/settings shows it.
type SettingView struct {
	Key          string `json:"key"`
	Type         string `json:"type"`
	Description  string `json:"description"`
	Value        any    `json:"value"`
	DefaultValue any    `json:"defaultValue"`
	Overwritten  bool   `json:"overwritten"`
	Protected    bool   `json:"protected"`
	Validation   string `json:"validation,omitempty"`
}

// DescribeSettings lists every key with its effective value for an entity whose own patch is
// own and whose inherited patch (the source's, for a sink) is inherited.
func DescribeSettings(inherited, own Patch) []SettingView {
	out := make([]SettingView, 0, len(settingDefs))
	for i := range settingDefs {
		d := &settingDefs[i]
		v := SettingView{Key: prefix + d.key, Type: d.apiType(), Description: d.description,
			DefaultValue: d.def, Value: d.def, Protected: d.protected, Validation: d.validation()}
		if x, ok := lookup(inherited, d.key); ok {
			v.Value = x
		}
		if x, ok := lookup(own, d.key); ok {
			v.Value, v.Overwritten = x, true
		}
		out = append(out, v)
	}
	return out
}

// IsUserModifiable reports whether key (with prefix) exists and is not protected.
func IsUserModifiable(key string) bool {
	d := findSetting(key)
	return d != nil && !d.protected
}

func findSetting(key string) *settingDef {
	short := strings.TrimPrefix(key, prefix)
	if short == key {
		return nil
	}
	for i := range settingDefs {
		if settingDefs[i].key == short {
			return &settingDefs[i]
		}
	}
	return nil
}

func lookup(p Patch, short string) (any, bool) {
	v, ok := p[prefix+short]
	return v, ok && v != nil
}

func (d *settingDef) apiType() string {
	switch d.typ {
	case typeDuration, typeSize:
		return typeString
	}
	return d.typ
}

func (d *settingDef) validation() string {
	switch d.typ {
	case typeInt:
		return fmt.Sprintf("%d-%d", d.min, d.max)
	case typeSize:
		return fmt.Sprintf("%s-%s", FormatSize(d.min), FormatSize(d.max))
	case typeDuration:
		return fmt.Sprintf("%s-%s", time.Duration(d.min), time.Duration(d.max))
	case typeString:
		return strings.Join(d.enum, "|")
	}
	return ""
}

// parse converts an API value and checks its range.
func (d *settingDef) parse(raw any) (value, error) {
	switch d.typ {
	case typeBool:
		if b, ok := raw.(bool); ok {
			return value{b: b}, nil
		}
		return value{}, fmt.Errorf("want a bool, got %v", raw)
	case typeString:
		s, ok := raw.(string)
		if !ok || !slices.Contains(d.enum, s) {
			return value{}, fmt.Errorf("want one of %s, got %v", strings.Join(d.enum, ", "), raw)
		}
		return value{s: s}, nil
	case typeStrings:
		return parseStrings(raw)
	}
	n, err := d.number(raw)
	if err != nil {
		return value{}, err
	}
	if n < d.min || n > d.max {
		return value{}, fmt.Errorf("must be between %s, got %v", strings.Replace(d.validation(), "-", " and ", 1), raw)
	}
	return value{i: n}, nil
}

func (d *settingDef) number(raw any) (int64, error) {
	switch d.typ {
	case typeDuration:
		s, ok := raw.(string)
		if !ok {
			return 0, fmt.Errorf("want a duration string such as \"30s\", got %v", raw)
		}
		v, err := time.ParseDuration(s)
		return int64(v), err
	case typeSize:
		if s, ok := raw.(string); ok {
			return ParseSize(s)
		}
	}
	switch v := raw.(type) {
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case float64:
		if v != math.Trunc(v) {
			return 0, fmt.Errorf("want an integer, got %v", v)
		}
		return int64(v), nil
	}
	return 0, fmt.Errorf("want a number, got %v", raw)
}

func parseStrings(raw any) (value, error) {
	switch v := raw.(type) {
	case []string:
		if len(v) > 0 {
			return value{ss: v}, nil
		}
	case []any:
		var out []string
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return value{}, fmt.Errorf("want a list of strings, got %v", raw)
			}
			out = append(out, s)
		}
		if len(out) > 0 {
			return value{ss: out}, nil
		}
	}
	return value{}, fmt.Errorf("want a non-empty list of strings, got %v", raw)
}

var sizeUnits = []struct {
	name string
	n    int64
}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}

// ParseSize reads a size such as "5MB", "256KB" or "100B" (binary multiples, as Keboola).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(t, u.name); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("invalid size %q", s)
			}
			return int64(n * float64(u.n)), nil
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n, nil
}

// FormatSize writes n bytes with the largest unit that divides it.
func FormatSize(n int64) string {
	for _, u := range sizeUnits {
		if n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
