package streamapi

import (
	"net/http"
)

const (
	branchPath = "/v1/branches/{branchId}"
	sourcePath = branchPath + "/sources/{sourceId}"
	sinkPath   = sourcePath + "/sinks/{sinkId}"
)

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/v1", http.StatusMovedPermanently)
	})
	s.mux.HandleFunc("GET /v1", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"api": "stream", "documentation": "docs/http.md in the kbridge repository"})
	})
	s.mux.HandleFunc("GET /health-check", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("OK\n"))
	})
	s.handle("GET /v1/tasks/{taskId...}", false, s.getTask)

	s.handle("POST "+branchPath+"/sources", true, s.createSource)
	s.handle("GET "+branchPath+"/sources", false, s.listSources)
	s.handle("GET "+sourcePath, false, s.getSource)
	s.handle("PATCH "+sourcePath, true, s.updateSource)
	s.handle("DELETE "+sourcePath, true, s.deleteSource)
	s.handle("PUT "+sourcePath+"/enable", true, s.enableSource(true))
	s.handle("PUT "+sourcePath+"/disable", true, s.enableSource(false))
	s.handle("POST "+sourcePath+"/rotate-secret", true, s.rotateSecret)
	s.handle("GET "+sourcePath+"/settings", false, s.sourceSettings)
	s.handle("PATCH "+sourcePath+"/settings", true, s.patchSourceSettings)
	s.handle("POST "+sourcePath+"/test", false, s.testSource)

	s.handle("POST "+sourcePath+"/sinks", true, s.createSink)
	s.handle("GET "+sourcePath+"/sinks", false, s.listSinks)
	s.handle("GET "+sinkPath, false, s.getSink)
	s.handle("PATCH "+sinkPath, true, s.updateSink)
	s.handle("DELETE "+sinkPath, true, s.deleteSink)
	s.handle("PUT "+sinkPath+"/enable", true, s.enableSink(true))
	s.handle("PUT "+sinkPath+"/disable", true, s.enableSink(false))
	s.handle("GET "+sinkPath+"/settings", false, s.sinkSettings)
	s.handle("PATCH "+sinkPath+"/settings", true, s.patchSinkSettings)
	s.handle("GET "+sinkPath+"/statistics/total", false, s.sinkStatistics)
	s.handle("GET "+sinkPath+"/statistics/files", false, s.sinkFiles)
	s.handle("DELETE "+sinkPath+"/statistics/clear", true, s.clearSinkStatistics)
	s.handle("DELETE "+sourcePath+"/statistics/clear", true, s.clearSourceStatistics)

	s.handle("GET "+branchPath+"/sources/deleted", false, s.listDeletedSources)
	s.handle("PUT "+sourcePath+"/undelete", true, s.undeleteSource)
	s.handle("GET "+sourcePath+"/versions", false, s.listSourceVersions)
	s.handle("GET "+sourcePath+"/versions/{number}", false, s.sourceVersion)
	s.handle("PUT "+sourcePath+"/versions/{number}/rollback", true, s.rollbackSource)
	s.handle("GET "+sourcePath+"/sinks/deleted", false, s.listDeletedSinks)
	s.handle("PUT "+sinkPath+"/undelete", true, s.undeleteSink)
	s.handle("GET "+sinkPath+"/versions", false, s.listSinkVersions)
	s.handle("GET "+sinkPath+"/versions/{number}", false, s.sinkVersion)
	s.handle("PUT "+sinkPath+"/versions/{number}/rollback", true, s.rollbackSink)
	s.handle("GET "+sourcePath+"/tasks/{taskId...}", false, s.getSourceTask)
	s.handle("GET "+branchPath+"/aggregation/sources", false, s.aggregateSources)
}
