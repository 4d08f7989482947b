package schemaregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is the registry's configuration.
type Config struct {
	DataDir string       // where the state file is kept; "" keeps everything in memory
	Logger  *slog.Logger // nil: discard
}

// Registry is the registry's state and its HTTP API. Its methods are safe for concurrent use.
type Registry struct {
	cfg Config
	log *slog.Logger
	mu  sync.Mutex
	st  *state
}

// New reads the registry's state from cfg.DataDir; it starts nothing.
func New(cfg Config) (*Registry, error) {
	st, err := load(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{cfg: cfg, log: log, st: st}, nil
}

// Serve answers the API on ln until ctx ends, then closes ln and waits for the requests
// being answered (at most 5 s).
func (r *Registry) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		case <-done:
		}
	})
	err := srv.Serve(ln)
	close(done)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler is the REST API.
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, map[string]any{}) })
	mux.HandleFunc("GET /schemas/types", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, 200, []string{"JSON", "PROTOBUF", "AVRO"})
	})
	mux.HandleFunc("GET /subjects", r.subjects)
	mux.HandleFunc("POST /subjects/{subject}/versions", r.register)
	mux.HandleFunc("POST /subjects/{subject}", r.lookup)
	mux.HandleFunc("GET /subjects/{subject}/versions", r.versions)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", r.version)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", r.version)
	mux.HandleFunc("DELETE /subjects/{subject}", r.deleteSubject)
	mux.HandleFunc("DELETE /subjects/{subject}/versions/{version}", r.deleteVersion)
	mux.HandleFunc("GET /schemas/ids/{id}", r.byID)
	mux.HandleFunc("GET /schemas/ids/{id}/schema", r.byID)
	mux.HandleFunc("GET /schemas/ids/{id}/versions", r.idVersions)
	mux.HandleFunc("GET /schemas/ids/{id}/subjects", r.idVersions)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", r.compatibility)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", r.compatibility)
	mux.HandleFunc("GET /config", r.getConfig)
	mux.HandleFunc("PUT /config", r.putConfig)
	mux.HandleFunc("GET /config/{subject}", r.getConfig)
	mux.HandleFunc("PUT /config/{subject}", r.putConfig)
	mux.HandleFunc("DELETE /config/{subject}", r.deleteConfig)
	mux.HandleFunc("GET /mode", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, map[string]string{"mode": "READWRITE"}) })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fail(w, 404, 404, "HTTP 404 Not Found") })
	return mux
}

// apiError is Confluent's error body.
type apiError struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status, code int, format string, args ...any) {
	reply(w, status, apiError{Code: code, Message: fmt.Sprintf(format, args...)})
}

// Confluent's error codes.
const (
	codeSubjectNotFound  = 40401
	codeVersionNotFound  = 40402
	codeSchemaNotFound   = 40403
	codeSubjectNoCompat  = 40408
	codeInvalidSchema    = 42201
	codeInvalidVersion   = 42202
	codeInvalidCompat    = 42203
	codeIncompatible     = 409
	codeStoreUnavailable = 50001
)

// registration is the body of a register, lookup or compatibility request.
type registration struct {
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType"`
	References []reference `json:"references"`
}

func readRegistration(w http.ResponseWriter, req *http.Request) (registration, bool) {
	var reg registration
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 8<<20)).Decode(&reg); err != nil {
		fail(w, 422, 422, "Unrecognized or malformed request body: %v", err)
		return reg, false
	}
	if reg.SchemaType == "" {
		reg.SchemaType = "AVRO"
	}
	reg.SchemaType = strings.ToUpper(reg.SchemaType)
	if reg.Schema == "" {
		fail(w, 422, codeInvalidSchema, "Empty schema")
		return reg, false
	}
	return reg, true
}

// schemaOut is a schema as GET /schemas/ids/{id} answers it: schemaType only when not Avro.
func schemaOut(s *schema) map[string]any {
	out := map[string]any{"schema": s.Text}
	if s.Type != "AVRO" {
		out["schemaType"] = s.Type
	}
	if len(s.References) > 0 {
		out["references"] = s.References
	}
	return out
}

func (r *Registry) subjects(w http.ResponseWriter, req *http.Request) {
	deleted := req.URL.Query().Get("deleted") == "true"
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for name, s := range r.st.Subjects {
		if len(s.live()) > 0 || deleted && len(s.Versions) > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	reply(w, 200, out)
}

// subjectLocked returns the subject named in the path, answering 40401 when it has no version.
func (r *Registry) subjectLocked(w http.ResponseWriter, req *http.Request) (string, *subject) {
	name := req.PathValue("subject")
	s := r.st.Subjects[name]
	if s == nil || len(s.live()) == 0 && req.URL.Query().Get("deleted") != "true" {
		fail(w, 404, codeSubjectNotFound, "Subject '%s' not found.", name)
		return name, nil
	}
	return name, s
}

// versionLocked finds the version named in the path ("latest", -1 or a number).
func (r *Registry) versionLocked(w http.ResponseWriter, req *http.Request, s *subject) *version {
	raw := req.PathValue("version")
	live := s.live()
	if req.URL.Query().Get("deleted") == "true" {
		live = s.Versions
	}
	if raw == "latest" || raw == "-1" {
		if len(live) == 0 {
			fail(w, 404, codeVersionNotFound, "Version %s not found.", raw)
			return nil
		}
		return live[len(live)-1]
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		fail(w, 422, codeInvalidVersion, "The specified version '%s' is not a valid version id. "+
			"Allowed values are between [1, 2^31-1] and the string \"latest\"", raw)
		return nil
	}
	for _, v := range live {
		if v.Version == n {
			return v
		}
	}
	fail(w, 404, codeVersionNotFound, "Version %d not found.", n)
	return nil
}

func (r *Registry) versions(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, s := r.subjectLocked(w, req)
	if s == nil {
		return
	}
	out := []int{}
	for _, v := range s.Versions {
		if !v.Deleted || req.URL.Query().Get("deleted") == "true" {
			out = append(out, v.Version)
		}
	}
	reply(w, 200, out)
}

func (r *Registry) version(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, s := r.subjectLocked(w, req)
	if s == nil {
		return
	}
	v := r.versionLocked(w, req, s)
	if v == nil {
		return
	}
	sc := r.st.Schemas[v.ID-1]
	if strings.HasSuffix(req.URL.Path, "/schema") {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		_, _ = w.Write([]byte(sc.Text))
		return
	}
	out := schemaOut(sc)
	out["subject"], out["version"], out["id"] = name, v.Version, v.ID
	reply(w, 200, out)
}

func (r *Registry) byID(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.Atoi(req.PathValue("id"))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || id < 1 || id > len(r.st.Schemas) {
		fail(w, 404, codeSchemaNotFound, "Schema %s not found", req.PathValue("id"))
		return
	}
	sc := r.st.Schemas[id-1]
	if strings.HasSuffix(req.URL.Path, "/schema") {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		_, _ = w.Write([]byte(sc.Text))
		return
	}
	reply(w, 200, schemaOut(sc))
}

func (r *Registry) idVersions(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.Atoi(req.PathValue("id"))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || id < 1 || id > len(r.st.Schemas) {
		fail(w, 404, codeSchemaNotFound, "Schema %s not found", req.PathValue("id"))
		return
	}
	type sv struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
	versions, subjects := []sv{}, []string{}
	for _, name := range slices.Sorted(mapsKeys(r.st.Subjects)) {
		for _, v := range r.st.Subjects[name].live() {
			if v.ID == id {
				versions = append(versions, sv{name, v.Version})
				if !slices.Contains(subjects, name) {
					subjects = append(subjects, name)
				}
			}
		}
	}
	if strings.HasSuffix(req.URL.Path, "/subjects") {
		reply(w, 200, subjects)
		return
	}
	reply(w, 200, versions)
}
