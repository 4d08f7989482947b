package connect

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

type configValue struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

type configInfo struct {
	Definition keyDef      `json:"definition"`
	Value      configValue `json:"value"`
}

// configInfos is Connect's validate answer; Warnings, kbridge's addition, lists ignored keys.
type configInfos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []configInfo `json:"configs"`
	Warnings   []string     `json:"warnings"`
}

// keyError is one error of one config key; own errors are in Connect's words and name the
// key themselves.
type keyError struct {
	key, msg string
	own      bool
}

// splitErrors returns the errors err joins, flattened; nil for nil.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, splitErrors(e)...)
	}
	return out
}

// keyErrors splits a translator error into its errors, each "key: message", ordered as the keys
// are in keyDefs and then by key.
func keyErrors(err error) []keyError {
	var out []keyError
	for _, e := range splitErrors(err) {
		if o, ok := e.(*ownError); ok {
			out = append(out, keyError{o.key, o.msg, true})
			continue
		}
		key, msg, _ := strings.Cut(e.Error(), ": ")
		out = append(out, keyError{key: key, msg: msg})
	}
	slices.SortStableFunc(out, func(a, b keyError) int {
		return cmp.Or(cmp.Compare(keyOrder(a.key), keyOrder(b.key)), cmp.Compare(a.key, b.key))
	})
	return out
}

// invalidConfig is the 400 Connect answers for an invalid config: every error on its own line.
func invalidConfig(errs []keyError) *apiError {
	var b strings.Builder
	fmt.Fprintf(&b, "Connector configuration is invalid and contains the following %d error(s):", len(errs))
	for _, e := range errs {
		if e.own {
			b.WriteString("\n" + e.msg)
		} else {
			b.WriteString("\n" + e.key + ": " + e.msg)
		}
	}
	b.WriteString("\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`")
	return &apiError{status: http.StatusBadRequest, message: b.String()}
}

// validate answers every key of kbridge's list with its value and errors; error_count counts
// the errors, as Connect does. As in Connect's ConnectorPluginsResource, the plugin in the path
// only has to agree with the body's connector.class, which names the connector checked.
func (s *Server) validate(w http.ResponseWriter, r *http.Request) error {
	plugin := r.PathValue("plugin")
	cfg, err := decodeConfig(r.Body)
	if err != nil {
		return err
	}
	if given, ok := cfg["connector.class"]; ok && given != deleted && !strings.HasSuffix(aliasOf(given), aliasOf(plugin)) {
		return errorf(http.StatusBadRequest, "Included connector type %s does not match request type %s", given, plugin)
	}
	if _, err := checkClass(cfg); err != nil {
		return err
	}
	_, warnings, perr := s.tr.pipeline(cfg)
	errs := keyErrors(perr)
	out := configInfos{Name: cfg["connector.class"], ErrorCount: len(errs), Groups: keyGroups, Warnings: append([]string{}, warnings...)}
	byKey := map[string][]string{}
	for _, e := range errs {
		byKey[e.key] = append(byKey[e.key], e.msg)
	}
	for i, d := range keyDefs {
		d.Order = i + 1
		out.Configs = append(out.Configs, configInfo{Definition: d, Value: valueOf(d, cfg, byKey[d.Name])})
		delete(byKey, d.Name)
	}
	for _, key := range slices.Sorted(maps.Keys(byKey)) { // keys kbridge does not list
		d := def("Common", key, "STRING", "", "")
		out.Configs = append(out.Configs, configInfo{Definition: d, Value: valueOf(d, cfg, byKey[key])})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// aliasOf drops a trailing "Connector" from a class name, as Connect's
// normalizedPluginName does.
func aliasOf(name string) string {
	if a, ok := strings.CutSuffix(name, "Connector"); ok && a != "" {
		return a
	}
	return name
}

// valueOf is the value part of d's answer: the given value, else the default.
func valueOf(d keyDef, cfg map[string]string, errs []string) configValue {
	v := configValue{Name: d.Name, RecommendedValues: []string{}, Errors: append([]string{}, errs...), Visible: true}
	if val, ok := cfg[d.Name]; ok {
		if val != deleted { // a null stays null
			v.Value = &val
		}
	} else if d.DefaultValue != nil {
		v.Value = d.DefaultValue
	}
	return v
}
