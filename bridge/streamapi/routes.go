package streamapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/kbridge/kbridge/sink"
)

const (
	branchPath = "/v1/branches/{branchId}"
	sourcePath = branchPath + "/sources/{sourceId}"
	sinkPath   = sourcePath + "/sinks/{sinkId}"
)

// route is one endpoint: what the mux serves and what the OpenAPI document says of it, from
// the same entry, so the document describes exactly what is served.
type route struct {
	method, path string
	id, summary  string // the operation id (Keboola's) and a one-line description
	write        bool   // needs an admin token; definition changes are serialised
	ep           endpoint
	plain        http.HandlerFunc // served without a token, instead of ep
	status       int              // the success status
	request      any              // a value of the JSON body's type; nil: no body
	response     any              // a value of the success body's type; nil: no body
	errors       []int
}

// Bodies of the list endpoints.
type (
	// SourceList is a page of sources.
	SourceList struct {
		ProjectID int64        `json:"projectId"`
		BranchID  int64        `json:"branchId"`
		Page      Page         `json:"page"`
		Sources   []SourceView `json:"sources"`
	}
	// SinkList is a page of a source's sinks.
	SinkList struct {
		ProjectID int64      `json:"projectId"`
		BranchID  int64      `json:"branchId"`
		SourceID  string     `json:"sourceId"`
		Page      Page       `json:"page"`
		Sinks     []SinkView `json:"sinks"`
	}
	// VersionList is a page of an entity's versions.
	VersionList struct {
		Versions []VersionView `json:"versions"`
		Page     Page          `json:"page"`
	}
	// AggregatedSourceList is a page of sources with their sinks and statistics.
	AggregatedSourceList struct {
		ProjectID int64              `json:"projectId"`
		BranchID  int64              `json:"branchId"`
		Page      Page               `json:"page"`
		Sources   []AggregatedSource `json:"sources"`
	}
	// SettingsResult lists an entity's settings.
	SettingsResult struct {
		Settings []sink.SettingView `json:"settings"`
	}
	// FilesResult lists a sink's files.
	FilesResult struct {
		Files []sink.FileStatistics `json:"files"`
	}
	// Index is the answer of GET /v1.
	Index struct {
		API           string `json:"api"`
		Documentation string `json:"documentation"`
	}
)

var (
	notFound     = []int{http.StatusNotFound}
	writeErrors  = []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound}
	createErrors = []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}
)

// table lists every endpoint of the API.
func (s *Server) table() []route {
	task := func(method, path, id, summary string, ep endpoint, request any, errs []int) route {
		return route{method: method, path: path, id: id, summary: summary, write: true, ep: ep,
			status: http.StatusAccepted, request: request, response: Task{}, errors: errs}
	}
	get := func(path, id, summary string, ep endpoint, response any, errs []int) route {
		return route{method: http.MethodGet, path: path, id: id, summary: summary, ep: ep, status: http.StatusOK, response: response, errors: errs}
	}
	return withBranchNotFound([]route{
		{method: "GET", path: "/{$}", id: "ApiRootIndex", summary: "Redirects to /v1.", status: http.StatusMovedPermanently, plain: redirectToV1},
		{method: "GET", path: "/v1", id: "ApiVersionIndex", summary: "The API's name and documentation.", status: http.StatusOK, response: Index{}, plain: s.index},
		{method: "GET", path: "/health-check", id: "HealthCheck", summary: "Answers OK (text) while the server runs.", status: http.StatusOK, plain: healthCheck},
		{method: "GET", path: "/v1/documentation/openapi3.json", id: "Openapi3Json", summary: "This OpenAPI 3 document as JSON.", status: http.StatusOK,
			plain: s.serveDocument("application/json", s.docJSON)},
		{method: "GET", path: "/v1/documentation/openapi3.yaml", id: "Openapi3Yaml", summary: "This OpenAPI 3 document as YAML.", status: http.StatusOK,
			plain: s.serveDocument("application/yaml", s.docYAML)},
		get("/v1/tasks/{taskId...}", "GetTask", "A task; its id contains slashes.", s.getTask, Task{}, notFound),

		task("POST", branchPath+"/sources", "CreateSource", "Creates a source; its id derives from the name unless given.", s.createSource, sourceBody{}, createErrors),
		get(branchPath+"/sources", "ListSources", "A page of the branch's sources.", s.listSources, SourceList{}, []int{http.StatusBadRequest}),
		get(branchPath+"/sources/deleted", "ListDeletedSources", "A page of the branch's deleted sources.", s.listDeletedSources, SourceList{}, []int{http.StatusBadRequest}),
		get(sourcePath, "GetSource", "A source.", s.getSource, SourceView{}, notFound),
		task("PATCH", sourcePath, "UpdateSource", "Updates a source's name or description.", s.updateSource, sourceBody{}, writeErrors),
		task("DELETE", sourcePath, "DeleteSource", "Deletes a source and its sinks (soft: they can be undeleted).", s.deleteSource, nil, writeErrors),
		task("PUT", sourcePath+"/undelete", "UndeleteSource", "Undeletes a source and the sinks deleted with it.", s.undeleteSource, nil, []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity}),
		task("PUT", sourcePath+"/enable", "EnableSource", "Enables a source.", s.enableSource(true), nil, writeErrors),
		task("PUT", sourcePath+"/disable", "DisableSource", "Disables a source: its intake answers 404.", s.enableSource(false), nil, writeErrors),
		{method: "POST", path: sourcePath + "/rotate-secret", id: "RotateSourceSecret", summary: "Gives the source a new secret; the old one stops at once.",
			write: true, ep: s.rotateSecret, status: http.StatusOK, response: SourceView{}, errors: writeErrors},
		get(sourcePath+"/settings", "GetSourceSettings", "The source's settings.", s.sourceSettings, SettingsResult{}, notFound),
		task("PATCH", sourcePath+"/settings", "UpdateSourceSettings", "Patches the source's settings.", s.patchSourceSettings, settingsBody{}, writeErrors),
		{method: "POST", path: sourcePath + "/test", id: "TestSource", summary: "Renders the request body as one event through every sink, writing nothing.",
			ep: s.testSource, status: http.StatusOK, response: TestResult{}, errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}},
		get(sourcePath+"/versions", "ListSourceVersions", "A page of the source's versions, oldest first.", listVersions(s.sourceVersions, sourceHistory), VersionList{}, notFound),
		get(sourcePath+"/versions/{number}", "SourceVersionDetail", "One version of the source.", versionDetail(s.sourceVersions, sourceHistory, "source"), VersionView{}, notFound),
		task("PUT", sourcePath+"/versions/{number}/rollback", "RollbackSourceVersion", "Makes a version's content the source's next version.", s.rollbackSource, nil, writeErrors),
		get(sourcePath+"/tasks/{taskId...}", "GetSourceTask", "A task of the source or of one of its sinks.", s.getSourceTask, Task{}, notFound),
		{method: "DELETE", path: sourcePath + "/statistics/clear", id: "SourceStatisticsClear", summary: "Restarts the statistics of every sink of the source from zero.",
			write: true, ep: s.clearSourceStatistics, status: http.StatusOK, errors: writeErrors},

		task("POST", sourcePath+"/sinks", "CreateSink", "Creates a sink; its id derives from the name unless given.", s.createSink, sinkBody{}, createErrors),
		get(sourcePath+"/sinks", "ListSinks", "A page of the source's sinks.", s.listSinks, SinkList{}, notFound),
		get(sourcePath+"/sinks/deleted", "ListDeletedSinks", "A page of the source's deleted sinks.", s.listDeletedSinks, SinkList{}, notFound),
		get(sinkPath, "GetSink", "A sink.", s.getSink, SinkView{}, notFound),
		task("PATCH", sinkPath, "UpdateSink", "Updates a sink; a table with a mapping replaces the columns.", s.updateSink, sinkBody{}, writeErrors),
		task("DELETE", sinkPath, "DeleteSink", "Deletes a sink (soft); its waiting data is still imported.", s.deleteSink, nil, writeErrors),
		task("PUT", sinkPath+"/undelete", "UndeleteSink", "Undeletes a sink.", s.undeleteSink, nil, writeErrors),
		task("PUT", sinkPath+"/enable", "EnableSink", "Enables a sink.", s.enableSink(true), nil, writeErrors),
		task("PUT", sinkPath+"/disable", "DisableSink", "Disables a sink.", s.enableSink(false), nil, writeErrors),
		get(sinkPath+"/settings", "GetSinkSettings", "The sink's settings, the source's patch under the sink's.", s.sinkSettings, SettingsResult{}, notFound),
		task("PATCH", sinkPath+"/settings", "UpdateSinkSettings", "Patches the sink's settings.", s.patchSinkSettings, settingsBody{}, writeErrors),
		get(sinkPath+"/statistics/total", "SinkStatisticsTotal", "The sink's totals per level.", s.sinkStatistics, sink.Statistics{}, notFound),
		get(sinkPath+"/statistics/files", "SinkStatisticsFiles", "The sink's files (failedFiles=true: those retrying).", s.sinkFiles, FilesResult{}, notFound),
		{method: "DELETE", path: sinkPath + "/statistics/clear", id: "SinkStatisticsClear", summary: "Restarts the sink's statistics from zero.",
			write: true, ep: s.clearSinkStatistics, status: http.StatusOK, errors: writeErrors},
		get(sinkPath+"/versions", "ListSinkVersions", "A page of the sink's versions, oldest first.", listVersions(s.sinkVersions, sinkHistory), VersionList{}, notFound),
		get(sinkPath+"/versions/{number}", "SinkVersionDetail", "One version of the sink.", versionDetail(s.sinkVersions, sinkHistory, "sink"), VersionView{}, notFound),
		task("PUT", sinkPath+"/versions/{number}/rollback", "RollbackSinkVersion", "Makes a version's content the sink's next version.", s.rollbackSink, nil, writeErrors),

		get(branchPath+"/aggregation/sources", "AggregationSources", "A page of sources with their sinks and the sinks' statistics.", s.aggregateSources, AggregatedSourceList{}, []int{http.StatusBadRequest}),
	})
}

// withBranchNotFound documents the 404 every branch path answers for a branch the Storage
// project does not have.
func withBranchNotFound(routes []route) []route {
	for i, rt := range routes {
		if strings.HasPrefix(rt.path, branchPath) && !slices.Contains(rt.errors, http.StatusNotFound) {
			routes[i].errors = append(slices.Clone(rt.errors), http.StatusNotFound)
		}
	}
	return routes
}

// routes registers the table on the mux.
func (s *Server) routes() {
	for _, rt := range s.table() {
		if rt.plain != nil {
			s.mux.HandleFunc(rt.method+" "+rt.path, rt.plain)
		} else {
			s.handle(rt.method+" "+rt.path, rt.write, rt.ep)
		}
	}
}

func redirectToV1(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/v1", http.StatusMovedPermanently)
}

func healthCheck(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("OK\n"))
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, Index{API: "stream", Documentation: s.cfg.PublicURL + "/v1/documentation/openapi3.json"})
}
