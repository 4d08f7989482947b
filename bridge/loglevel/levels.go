// Package loglevel keeps a level per named logger, changeable at run time: "root" and one
// logger per component, a component being the "component" attribute a logger is given with
// slog.Logger.With. Levels are named as log4j names them (TRACE, DEBUG, INFO, WARN, ERROR,
// FATAL, OFF, ALL), so that Kafka Connect's /admin/loggers endpoints can read and set them.
package loglevel

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Root is the name of the logger every other logger starts from.
const Root = "root"

// Levels are the loggers' levels. Its methods may be called concurrently.
type Levels struct {
	now     func() time.Time
	mu      sync.Mutex
	loggers map[string]*logger
}

type logger struct {
	level    slog.LevelVar
	name     string // the level's log4j name; guarded by Levels.mu
	modified *int64 // Unix milliseconds of the last change over Set; guarded by Levels.mu
}

// Level is one logger's level as Connect's LoggerLevel entity has it.
type Level struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

// New returns levels with the root logger at root; now is the clock of the last-modified
// times, time.Now when nil.
func New(root slog.Level, now func() time.Time) *Levels {
	if now == nil {
		now = time.Now
	}
	l := &Levels{now: now, loggers: map[string]*logger{}}
	r := &logger{name: Name(root)}
	r.level.Set(root)
	l.loggers[Root] = r
	return l
}

// log4j's levels as slog levels: ALL and OFF are beyond every level a logger writes at.
var byName = map[string]slog.Level{
	"ALL": -1 << 20, "TRACE": slog.LevelDebug - 4, "DEBUG": slog.LevelDebug, "INFO": slog.LevelInfo,
	"WARN": slog.LevelWarn, "ERROR": slog.LevelError, "FATAL": slog.LevelError + 4, "OFF": 1 << 20,
}

// Lowest is below every level: the handler Handler wraps must let every record through.
const Lowest = slog.Level(-1<<20 - 1)

// Parse reads a log4j level name, in any case.
func Parse(name string) (slog.Level, bool) {
	l, ok := byName[strings.ToUpper(name)]
	return l, ok
}

// Name is the log4j name of a slog level: the highest named level at or below it.
func Name(l slog.Level) string {
	best, bestLevel := "ALL", byName["ALL"]
	for name, v := range byName {
		if v <= l && v > bestLevel {
			best, bestLevel = name, v
		}
	}
	return best
}

// get returns the logger named name, creating it at root's level; l.mu is held.
func (l *Levels) get(name string) *logger {
	if lg, ok := l.loggers[name]; ok {
		return lg
	}
	root := l.loggers[Root]
	lg := &logger{name: root.name}
	lg.level.Set(root.level.Level())
	l.loggers[name] = lg
	return lg
}

// All returns every logger's level by name, root included.
func (l *Levels) All() map[string]Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]Level, len(l.loggers))
	for name, lg := range l.loggers {
		out[name] = Level{Level: lg.name, LastModified: lg.modified}
	}
	return out
}

// Get returns the level of the logger named name; false when there is none.
func (l *Levels) Get(name string) (Level, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.EqualFold(name, Root) {
		name = Root
	}
	lg, ok := l.loggers[name]
	if !ok {
		return Level{}, false
	}
	return Level{Level: lg.name, LastModified: lg.modified}, true
}

// Set sets the level of the loggers namespace names, as Connect's worker sets a log4j
// namespace: "root" sets every logger; any other name sets every logger whose name starts
// with it and creates the logger of that name if there is none. It returns the names of the
// loggers it set, sorted, those already at level included. level is a log4j name.
func (l *Levels) Set(namespace, level string) ([]string, bool) {
	v, ok := Parse(level)
	if !ok {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	if strings.EqualFold(namespace, Root) {
		names = slices.Collect(maps.Keys(l.loggers))
	} else {
		l.get(namespace)
		for name := range l.loggers {
			if name != Root && strings.HasPrefix(name, namespace) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	now := l.now().UnixMilli()
	for _, name := range names {
		lg := l.loggers[name]
		if lg.level.Level() == v && lg.name == strings.ToUpper(level) {
			continue
		}
		lg.level.Set(v)
		lg.name = strings.ToUpper(level)
		lg.modified = &now
	}
	return names, true
}

// Handler returns a handler that writes through inner the records whose level is at or above
// their logger's: a logger is the component named by the last "component" attribute given to
// it, root without one. inner must let every level through (see Lowest).
func (l *Levels) Handler(inner slog.Handler) slog.Handler {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &handler{inner: inner, levels: l, lg: l.loggers[Root]}
}

type handler struct {
	inner  slog.Handler
	levels *Levels
	lg     *logger
}

func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.lg.level.Level()
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error { return h.inner.Handle(ctx, r) }

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	lg := h.lg
	for _, a := range attrs {
		if a.Key == "component" {
			h.levels.mu.Lock()
			lg = h.levels.get(a.Value.String())
			h.levels.mu.Unlock()
		}
	}
	return &handler{inner: h.inner.WithAttrs(attrs), levels: h.levels, lg: lg}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name), levels: h.levels, lg: h.lg}
}
