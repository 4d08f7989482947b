package schemaregistry

import (
	"encoding/json"
	"iter"
	"maps"
	"net/http"
	"slices"
	"strings"
)

func mapsKeys[M ~map[string]V, V any](m M) iter.Seq[string] { return maps.Keys(m) }

// refsLocked returns the texts of the references, or answers 42201 when one is unknown.
func (r *Registry) refsLocked(w http.ResponseWriter, refs []reference) ([]string, []string, bool) {
	var texts, names []string
	for _, ref := range refs {
		s := r.st.Subjects[ref.Subject]
		var found *version
		if s != nil {
			for _, v := range s.live() {
				if v.Version == ref.Version || ref.Version == -1 {
					found = v
				}
			}
		}
		if found == nil {
			fail(w, 422, codeInvalidSchema, "Invalid schema: reference %s (subject %s version %d) not found", ref.Name, ref.Subject, ref.Version)
			return nil, nil, false
		}
		texts, names = append(texts, r.st.Schemas[found.ID-1].Text), append(names, ref.Name)
	}
	return texts, names, true
}

// findLocked returns the registered schema equal to reg, or nil.
func (r *Registry) findLocked(reg registration) *schema {
	for _, s := range r.st.Schemas {
		if s.Type == reg.SchemaType && same(s.Text, reg.Schema) && slices.Equal(s.References, reg.References) {
			return s
		}
	}
	return nil
}

// same compares schema texts, ignoring JSON formatting for JSON texts (Avro and JSON Schema).
func same(a, b string) bool {
	if a == b {
		return true
	}
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return strings.TrimSpace(a) == strings.TrimSpace(b)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

func (r *Registry) levelLocked(s *subject) string {
	if s != nil && s.Compat != "" {
		return s.Compat
	}
	return r.st.Compat
}

// earlierLocked returns the texts and references' texts of the live versions of s, oldest first.
func (r *Registry) earlierLocked(s *subject, upTo *version) ([]string, [][]string) {
	var texts []string
	var refs [][]string
	if s == nil {
		return nil, nil
	}
	for _, v := range s.live() {
		if upTo != nil && v.Version > upTo.Version {
			break
		}
		sc := r.st.Schemas[v.ID-1]
		var rt []string
		for _, ref := range sc.References {
			if rs := r.st.Subjects[ref.Subject]; rs != nil {
				for _, rv := range rs.Versions {
					if rv.Version == ref.Version {
						rt = append(rt, r.st.Schemas[rv.ID-1].Text)
					}
				}
			}
		}
		texts, refs = append(texts, sc.Text), append(refs, rt)
	}
	return texts, refs
}

func (r *Registry) register(w http.ResponseWriter, req *http.Request) {
	reg, ok := readRegistration(w, req)
	if !ok {
		return
	}
	name := req.PathValue("subject")
	r.mu.Lock()
	defer r.mu.Unlock()
	refs, refNames, ok := r.refsLocked(w, reg.References)
	if !ok {
		return
	}
	if err := check(reg.SchemaType, reg.Schema, refs, refNames); err != nil {
		fail(w, 422, codeInvalidSchema, "Invalid schema %s: %v", reg.Schema, err)
		return
	}
	existing := r.findLocked(reg)
	s := r.st.Subjects[name]
	if existing != nil && s != nil {
		for _, v := range s.live() {
			if v.ID == existing.ID {
				reply(w, 200, map[string]int{"id": existing.ID})
				return
			}
		}
	}
	earlier, earlierRefs := r.earlierLocked(s, nil)
	if reasons := compatible(r.levelLocked(s), reg.SchemaType, reg.Schema, refs, earlier, earlierRefs); len(reasons) > 0 {
		fail(w, 409, codeIncompatible, "Schema being registered is incompatible with an earlier schema for subject %q, details: [%s]",
			name, strings.Join(reasons, "; "))
		return
	}
	if existing == nil {
		existing = &schema{ID: len(r.st.Schemas) + 1, Type: reg.SchemaType, Text: reg.Schema, References: reg.References}
		r.st.Schemas = append(r.st.Schemas, existing)
	}
	if s == nil {
		s = &subject{}
		r.st.Subjects[name] = s
	}
	next := 1
	if len(s.Versions) > 0 {
		next = s.Versions[len(s.Versions)-1].Version + 1
	}
	s.Versions = append(s.Versions, &version{Version: next, ID: existing.ID})
	if !r.saveLocked(w) {
		return
	}
	r.log.Info("schema registered", "subject", name, "version", next, "id", existing.ID, "type", reg.SchemaType)
	reply(w, 200, map[string]int{"id": existing.ID})
}

// saveLocked persists the state, answering 500 when it cannot.
func (r *Registry) saveLocked(w http.ResponseWriter) bool {
	if err := r.st.save(r.cfg.DataDir); err != nil {
		r.log.Error("schema registry state not saved", "error", err)
		fail(w, 500, codeStoreUnavailable, "Error while storing the schema: %v", err)
		return false
	}
	return true
}

func (r *Registry) lookup(w http.ResponseWriter, req *http.Request) {
	reg, ok := readRegistration(w, req)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	name, s := r.subjectLocked(w, req)
	if s == nil {
		return
	}
	if found := r.findLocked(reg); found != nil {
		for _, v := range s.live() {
			if v.ID == found.ID {
				out := schemaOut(found)
				out["subject"], out["version"], out["id"] = name, v.Version, v.ID
				reply(w, 200, out)
				return
			}
		}
	}
	fail(w, 404, codeSchemaNotFound, "Schema not found")
}

func (r *Registry) deleteSubject(w http.ResponseWriter, req *http.Request) {
	permanent := req.URL.Query().Get("permanent") == "true"
	r.mu.Lock()
	defer r.mu.Unlock()
	name := req.PathValue("subject")
	s := r.st.Subjects[name]
	if s == nil || len(s.Versions) == 0 {
		fail(w, 404, codeSubjectNotFound, "Subject '%s' not found.", name)
		return
	}
	out := []int{}
	for _, v := range s.Versions {
		if permanent || !v.Deleted {
			out = append(out, v.Version)
		}
		v.Deleted = true
	}
	if permanent {
		delete(r.st.Subjects, name)
	}
	if r.saveLocked(w) {
		reply(w, 200, out)
	}
}

func (r *Registry) deleteVersion(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, s := r.subjectLocked(w, req)
	if s == nil {
		return
	}
	v := r.versionLocked(w, req, s)
	if v == nil {
		return
	}
	v.Deleted = true
	if r.saveLocked(w) {
		reply(w, 200, v.Version)
	}
}

func (r *Registry) compatibility(w http.ResponseWriter, req *http.Request) {
	reg, ok := readRegistration(w, req)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.st.Subjects[req.PathValue("subject")]
	var upTo *version
	if req.PathValue("version") != "" {
		if _, s = r.subjectLocked(w, req); s == nil {
			return
		}
		if upTo = r.versionLocked(w, req, s); upTo == nil {
			return
		}
	}
	refs, refNames, ok := r.refsLocked(w, reg.References)
	if !ok {
		return
	}
	if err := check(reg.SchemaType, reg.Schema, refs, refNames); err != nil {
		fail(w, 422, codeInvalidSchema, "Invalid schema %s: %v", reg.Schema, err)
		return
	}
	earlier, earlierRefs := r.earlierLocked(s, upTo)
	level := r.levelLocked(s)
	if upTo != nil && !strings.HasSuffix(level, "_TRANSITIVE") { // against that version itself
		earlier, earlierRefs = earlier[len(earlier)-1:], earlierRefs[len(earlierRefs)-1:]
	}
	reasons := compatible(level, reg.SchemaType, reg.Schema, refs, earlier, earlierRefs)
	out := map[string]any{"is_compatible": len(reasons) == 0}
	if req.URL.Query().Get("verbose") == "true" {
		out["messages"] = append([]string{}, reasons...)
	}
	reply(w, 200, out)
}

func (r *Registry) getConfig(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	level := r.st.Compat
	if name := req.PathValue("subject"); name != "" {
		s := r.st.Subjects[name]
		if s == nil || s.Compat == "" {
			if req.URL.Query().Get("defaultToGlobal") != "true" {
				fail(w, 404, codeSubjectNoCompat, "Subject '%s' does not have subject-level compatibility configured", name)
				return
			}
		} else {
			level = s.Compat
		}
	}
	reply(w, 200, map[string]string{"compatibilityLevel": level})
}

func (r *Registry) putConfig(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<20)).Decode(&body); err != nil {
		fail(w, 422, 422, "Unrecognized or malformed request body: %v", err)
		return
	}
	level := strings.ToUpper(body.Compatibility)
	if !slices.Contains(levels, level) {
		fail(w, 422, codeInvalidCompat, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if name := req.PathValue("subject"); name != "" {
		s := r.st.Subjects[name]
		if s == nil {
			s = &subject{}
			r.st.Subjects[name] = s
		}
		s.Compat = level
	} else {
		r.st.Compat = level
	}
	if r.saveLocked(w) {
		reply(w, 200, map[string]string{"compatibility": level})
	}
}

func (r *Registry) deleteConfig(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := req.PathValue("subject")
	s := r.st.Subjects[name]
	if s == nil || s.Compat == "" {
		fail(w, 404, codeSubjectNoCompat, "Subject '%s' does not have subject-level compatibility configured", name)
		return
	}
	old := s.Compat
	s.Compat = ""
	if r.saveLocked(w) {
		reply(w, 200, map[string]string{"compatibilityLevel": old})
	}
}
