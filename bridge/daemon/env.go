package daemon

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeOf(time.Duration(0))

// applyEnv overrides scalar fields of the struct v points to from environment variables named
// by their YAML path: prefix_PARENT_CHILD, upper case (sink.dataDir → KBRIDGE_SINK_DATADIR).
// Lists of strings take comma-separated values. Maps and lists of structs are file-only.
func applyEnv(v any, prefix string, env func(string) (string, bool)) error {
	return walkEnv(reflect.ValueOf(v).Elem(), prefix, env)
}

func walkEnv(v reflect.Value, name string, env func(string) (string, bool)) error {
	if v.Kind() == reflect.Struct && v.Type() != durationType {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			if err := walkEnv(v.Field(i), name+"_"+strings.ToUpper(tag), env); err != nil {
				return err
			}
		}
		return nil
	}
	raw, ok := env(name)
	if !ok {
		return nil
	}
	if err := setScalar(v, raw); err != nil {
		return fmt.Errorf("environment %s: %w", name, err)
	}
	return nil
}

func setScalar(v reflect.Value, raw string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case v.Kind() >= reflect.Int && v.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return err
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from the environment (%s)", v.Type())
	}
	return nil
}
