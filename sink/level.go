package sink

import (
	"fmt"
	"sync"
)

// Level is how far rows got: local (fsynced in a slice file), staging (uploaded into the
// sink's staging file) or target (imported into the table).
type Level string

const (
	LevelLocal   Level = "local"
	LevelStaging Level = "staging"
	LevelTarget  Level = "target"
)

func (l Level) rank() int {
	switch l {
	case LevelLocal:
		return 1
	case LevelStaging:
		return 2
	case LevelTarget:
		return 3
	}
	return 0
}

// ParseLevel reads "local", "staging" or "target".
func ParseLevel(s string) (Level, error) {
	l := Level(s)
	if l.rank() == 0 {
		return "", fmt.Errorf("level %q: want local, staging or target", s)
	}
	return l, nil
}

// broadcast wakes everyone waiting for progress: Changed returns a channel closed at the next
// change.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
