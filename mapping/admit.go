package mapping

import (
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// admit evaluates the templates of a mapping that runs in workers once, on an empty JSON event
// and within the limits, and refuses the mapping when an evaluation is stopped at a limit: a
// template such as a string doubled 36 times fails on every event and is refused at creation.
// Other failures (a missing path, an error in the template) are the event's and pass.
// Outcomes are remembered per program and limits, so compiling the same mapping again (the
// test endpoint, every sink that renders it) costs nothing; a refusal for a minute only, as it
// may come from a machine too busy at that moment.
func (m *Mapping) admit() error {
	if m.pool == nil {
		return nil
	}
	key := sha256.Sum256(fmt.Appendf([]byte(m.programs[0].text), "\x00%d/%d/%d",
		m.cfg.TemplateTimeout, m.cfg.TemplateMemoryLimit, m.cfg.TemplateMaxStack))
	admitted.Lock()
	verdict, ok := admitted.m[key]
	admitted.Unlock()
	if ok && (verdict.err == nil || time.Since(verdict.at) < time.Minute) {
		return verdict.err
	}
	err := m.probe()
	admitted.Lock()
	if admitted.m == nil || len(admitted.m) >= 4096 {
		admitted.m = map[[32]byte]admission{}
	}
	admitted.m[key] = admission{err, time.Now()}
	admitted.Unlock()
	return err
}

type admission struct {
	err error
	at  time.Time
}

var admitted struct {
	sync.Mutex
	m map[[32]byte]admission
}

// probe renders the empty event and reports a limit breach as a column's error.
func (m *Mapping) probe() error {
	e := newEngine(m)
	ev := Event{Body: []byte("{}"), Header: http.Header{"Content-Type": {"application/json"}},
		ClientIP: netip.IPv4Unspecified(), ReceivedAt: time.Now()}
	e.run([]Event{ev})
	ce, ok := e.errs[0].(*ColumnError)
	if !ok || !breached(ce.Err) {
		return nil
	}
	for i := range m.columns {
		if m.columns[i].def.Name == ce.Column {
			return fmt.Errorf("column %d %q: template stopped at its limits on an empty event: %w", i+1, ce.Column, ce.Err)
		}
	}
	return fmt.Errorf("template stopped at its limits on an empty event: %w", ce)
}

// programKey identifies a program in a pool.
func programKey(text string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text))
	return h.Sum64()
}
