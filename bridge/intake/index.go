package intake

import (
	"crypto/subtle"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbridge/kbridge/sink"
)

// idKey is what an intake URL names: a project and a source id. The same id may exist in
// several branches; a record goes to every branch whose source has the secret.
type idKey struct {
	project int64
	source  string
}

// sourceIndex maps URL ids to source keys. It is rebuilt from Sink.Sources on Refresh and on
// a miss, at most once per minRebuild, so requests for unknown sources cannot make every
// request list all sources.
type sourceIndex struct {
	sink    Sink
	keys    atomic.Pointer[map[idKey][]sink.SourceKey]
	mu      sync.Mutex // serialises rebuilds
	lastRun atomic.Int64
}

const minRebuild = 100 * time.Millisecond

func (x *sourceIndex) rebuild() {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := map[idKey][]sink.SourceKey{}
	for _, src := range x.sink.Sources() {
		k := idKey{src.Key.ProjectID, src.Key.SourceID}
		m[k] = append(m[k], src.Key)
	}
	x.keys.Store(&m)
	x.lastRun.Store(time.Now().UnixNano())
}

func (x *sourceIndex) get(k idKey) []sink.SourceKey {
	if m := x.keys.Load(); m != nil {
		return (*m)[k]
	}
	return nil
}

// lookupResult is the outcome of resolving a URL.
type lookupResult int

const (
	found lookupResult = iota
	notFound
	disabled
)

// resolve appends the keys of the enabled sources with the id and secret to dst.
func (x *sourceIndex) resolve(k idKey, secret string, dst []sink.SourceKey) ([]sink.SourceKey, lookupResult) {
	dst, res, stale := x.match(k, secret, dst)
	if (res == notFound || stale) && x.maybeRebuild() {
		dst, res, _ = x.match(k, secret, dst[:0])
	}
	return dst, res
}

func (x *sourceIndex) maybeRebuild() bool {
	if x.keys.Load() != nil && time.Now().UnixNano()-x.lastRun.Load() < int64(minRebuild) {
		return false
	}
	x.rebuild()
	return true
}

// match checks the indexed keys; stale reports a key whose source is gone.
func (x *sourceIndex) match(k idKey, secret string, dst []sink.SourceKey) ([]sink.SourceKey, lookupResult, bool) {
	res, stale := notFound, false
	for _, key := range x.get(k) {
		src, ok := x.sink.Source(key)
		if !ok {
			stale = true
			continue
		}
		if src.Type != "http" || !secretEqual(src.Secret, secret) {
			continue
		}
		if src.Disabled {
			if res == notFound {
				res = disabled
			}
			continue
		}
		res = found
		dst = append(dst, key)
	}
	return dst, res, stale
}

// secretEqual compares in time independent of where the strings differ (the length of a
// secret is public: always 48).
func secretEqual(want, got string) bool {
	if want == "" || len(want) != len(got) {
		return false
	}
	var v byte
	for i := range len(want) {
		v |= want[i] ^ got[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}
