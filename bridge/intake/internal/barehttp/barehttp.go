// Package barehttp is the yardstick of the intake's benchmark (make bench-intake): a net/http
// handler that only reads the request body and answers 200 OK, the least any HTTP intake
// must do. The intake is measured against it with the same load, in the same run.
package barehttp

import (
	"io"
	"net/http"
	"sync"
)

var bufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

var okBody = []byte("OK")

// Handler reads the body and answers 200 OK.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := bufs.Get().(*[]byte)
		defer bufs.Put(b)
		for {
			if _, err := r.Body.Read(*b); err != nil {
				if err != io.EOF {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				break
			}
		}
		_, _ = w.Write(okBody)
	})
}
