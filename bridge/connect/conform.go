package connect

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// methods are those the routes use, in the order an Allow header lists them.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// conform answers, before a route runs, what Connect's JAX-RS runtime answers before a
// resource method runs, in its order: 404 for an unknown path, 405 for a method the path does
// not take, 415 for a Content-Type that is not JSON (or none, where the route reads a body),
// 406 when the client accepts no JSON. A trailing slash is ignored, as Jersey ignores it.
// bodies are the patterns whose route reads a request body.
func conform(mux *http.ServeMux, bodies map[string]bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			r.URL.Path = strings.TrimSuffix(p, "/")
			r.URL.RawPath = strings.TrimSuffix(r.URL.RawPath, "/")
		}
		_, pattern := mux.Handler(r)
		if pattern == "" {
			if allowed := allowedMethods(mux, r); len(allowed) > 0 {
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				writeError(w, errorf(http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed"))
			} else {
				writeError(w, errorf(http.StatusNotFound, "HTTP 404 Not Found"))
			}
			return
		}
		root := pattern == "GET /{$}" || pattern == "GET /health" // RootResource declares no @Consumes
		// Jersey takes a request without Content-Type to a method that reads an entity as
		// application/octet-stream, which no JSON method consumes.
		if ct := r.Header.Get("Content-Type"); !root && (ct != "" && !isJSON(ct) || ct == "" && bodies[pattern]) {
			writeError(w, errorf(http.StatusUnsupportedMediaType, "HTTP 415 Unsupported Media Type"))
			return
		}
		if !acceptsJSON(r.Header.Values("Accept")) {
			writeError(w, errorf(http.StatusNotAcceptable, "HTTP 406 Not Acceptable"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// allowedMethods lists the methods the request's path takes.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

// isJSON tells whether a Content-Type is one Jackson's JAX-RS provider reads: application/json
// or any +json type.
func isJSON(ct string) bool {
	t, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	typ, sub, _ := strings.Cut(t, "/")
	return typ == "application" && (sub == "json" || strings.HasSuffix(sub, "+json"))
}

// acceptsJSON tells whether Accept headers admit application/json: no header does, as does a
// range matching it with a quality above zero.
func acceptsJSON(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if strings.TrimSpace(item) == "" {
				continue
			}
			t, params, err := mime.ParseMediaType(item)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			if t == "*/*" || t == "application/*" || t == "application/json" {
				return true
			}
		}
	}
	return false
}
