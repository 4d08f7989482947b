package mapping

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Mapping is a compiled column list. It is immutable and safe for concurrent use; render with
// a Renderer per goroutine.
type Mapping struct {
	cfg     Config
	columns []compiledColumn
	pk      []string

	templates     []int    // indexes into columns of the Jsonnet template columns
	templateNames []string // their names, by template number
	// programs[0] renders all templates for a batch of events, programs[k+1] template k alone.
	programs []program
	exprs    []stringExpr // the templates as string expressions, when all of them are

	pool *pool  // the worker processes that evaluate Jsonnet; nil: in this process
	key  uint64 // identifies the programs in the pool, whichever sink compiled them

	timeouts, outOfMemory atomic.Int64
	abandoned             atomic.Int64 // evaluations in this process past their time limit
}

type compiledColumn struct {
	def      Column
	kind     Kind
	path     []pathStep // of a path column
	template int        // template number of a Jsonnet template column
	// fillHTTP marks a kafka.* column of a primary key made only of kafka.* columns: for an
	// HTTP event it gets a new UUIDv7 instead of staying empty, so HTTP events do not all
	// share the empty key and replace each other.
	fillHTTP bool
}

// Compile validates a column list and prepares it for rendering. Errors name the column. A
// mapping whose templates run in workers is admitted first: a template stopped at its limits
// on an empty event is refused.
func Compile(columns []Column, cfg Config) (*Mapping, error) { return compile(columns, cfg, true) }

// CompileStored compiles a mapping that was admitted when it was created, such as a stored
// sink's, without the admission: a daemon starts with every sink it had, whatever its load
// or its limits now, and a template that breaks them is stopped per event, failing only the
// events it renders.
func CompileStored(columns []Column, cfg Config) (*Mapping, error) {
	return compile(columns, cfg, false)
}

func compile(columns []Column, cfg Config, admit bool) (*Mapping, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(columns) == 0 || len(columns) > MaxColumns {
		return nil, fmt.Errorf("a mapping needs 1 to %d columns, got %d", MaxColumns, len(columns))
	}
	m := &Mapping{cfg: cfg.withDefaults(), columns: make([]compiledColumn, len(columns)), programs: make([]program, 1)}
	seen := map[string]bool{}
	var contents []string
	for i, def := range columns {
		if err := m.compileColumn(&m.columns[i], def); err != nil {
			return nil, fmt.Errorf("column %d %q: %w", i+1, def.Name, err)
		}
		if key := strings.ToLower(def.Name); seen[key] {
			return nil, fmt.Errorf("column %d %q: the name is used twice (names are case-insensitive)", i+1, def.Name)
		} else {
			seen[key] = true
		}
		if def.PrimaryKey {
			m.pk = append(m.pk, def.Name)
		}
		if m.columns[i].kind == KindTemplate {
			m.columns[i].template = len(m.templates)
			m.templates = append(m.templates, i)
			m.templateNames = append(m.templateNames, def.Name)
			contents = append(contents, def.Template.Content)
		}
	}
	if len(contents) > 0 {
		program, err := compileProgram("templates", contents)
		if err != nil {
			return nil, err
		}
		m.programs[0] = program
		m.exprs = compileStringExprs(contents)
		if m.exprs == nil && !m.cfg.inProcess {
			m.pool, m.key = poolFor(m.cfg), programKey(program.text)
		}
		if admit {
			if err := m.admit(); err != nil {
				return nil, err
			}
		}
	}
	m.markKafkaOnlyKey()
	return m, nil
}

// markKafkaOnlyKey sets fillHTTP on the key columns when every key column is a kafka.* one.
func (m *Mapping) markKafkaOnlyKey() {
	var key []*compiledColumn
	for i := range m.columns {
		c := &m.columns[i]
		if !c.def.PrimaryKey {
			continue
		}
		if !strings.HasPrefix(string(c.kind), "kafka.") {
			return
		}
		key = append(key, c)
	}
	for _, c := range key {
		c.fillHTTP = true
	}
}

func (m *Mapping) compileColumn(c *compiledColumn, def Column) error {
	if err := def.validate(); err != nil {
		return err
	}
	c.def, c.kind = def, def.kind()
	switch c.kind {
	case KindPath:
		c.path = compilePath(def.Path)
	case KindTemplate:
		if err := checkSyntax(def.Name, def.Template.Content); err != nil {
			return err
		}
		if _, err := parseProgram(def.Name, buildProgram([]string{def.Template.Content}, false)); err != nil {
			return err
		}
		program, err := compileProgram(def.Name, []string{def.Template.Content})
		if err != nil {
			return err
		}
		m.programs = append(m.programs, program)
	}
	return nil
}

// Columns returns the column definitions as given.
func (m *Mapping) Columns() []Column {
	out := make([]Column, len(m.columns))
	for i := range m.columns {
		out[i] = m.columns[i].def
	}
	return out
}

// Names returns the column names in order: the table's columns.
func (m *Mapping) Names() []string {
	out := make([]string, len(m.columns))
	for i := range m.columns {
		out[i] = m.columns[i].def.Name
	}
	return out
}

// PrimaryKey returns the names of the columns marked primaryKey, in column order.
func (m *Mapping) PrimaryKey() []string { return append([]string(nil), m.pk...) }

// TemplateTimeouts counts evaluations stopped at the time limit since Compile.
func (m *Mapping) TemplateTimeouts() int64 { return m.timeouts.Load() }

// TemplateOutOfMemory counts evaluations stopped at the memory limit since Compile.
func (m *Mapping) TemplateOutOfMemory() int64 { return m.outOfMemory.Load() }

// AbandonedEvaluations is how many evaluations of m that ran past the time limit in this
// process (without workers, see InitWorkers) are still running.
func (m *Mapping) AbandonedEvaluations() int64 { return m.abandoned.Load() }

// compileStringExprs compiles every template to a string expression, or returns nil when one
// of them is more than that.
func compileStringExprs(contents []string) []stringExpr {
	exprs := make([]stringExpr, len(contents))
	for k, content := range contents {
		x, ok := compileStringExpr(content)
		if !ok {
			return nil
		}
		exprs[k] = x
	}
	return exprs
}
