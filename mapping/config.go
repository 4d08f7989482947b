package mapping

import (
	"fmt"
	"time"
)

// Config bounds template evaluation. The zero value means the defaults.
type Config struct {
	// TemplateTimeout limits one evaluation (a batch, or one event when a batch is re-run
	// event by event). Default 1s.
	TemplateTimeout time.Duration `json:"templateTimeout" yaml:"templateTimeout"`
	// TemplateMaxStack bounds Jsonnet recursion. Default 500 frames.
	TemplateMaxStack int `json:"templateMaxStack" yaml:"templateMaxStack"`
	// TemplateMaxOutput bounds the bytes all templates of one event may produce. Default 1 MiB.
	TemplateMaxOutput int `json:"templateMaxOutput" yaml:"templateMaxOutput"`
	// TemplateBatchSize is how many events one evaluation renders. Default 256.
	TemplateBatchSize int `json:"templateBatchSize" yaml:"templateBatchSize"`
	// TemplateMemoryLimit bounds the memory of one Jsonnet evaluation, in bytes: the memory a
	// worker process may take beyond its start-up size. Default 256 MiB.
	TemplateMemoryLimit int64 `json:"templateMemoryLimit" yaml:"templateMemoryLimit"`
	// TemplateWorkers is how many worker processes evaluate Jsonnet at once. Default 4.
	TemplateWorkers int `json:"templateWorkers" yaml:"templateWorkers"`
	// Now is the clock for id columns; default time.Now.
	Now func() time.Time `json:"-" yaml:"-"`

	inProcess bool // evaluate in this process even when workers are available (tests)
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.TemplateTimeout == 0 {
		c.TemplateTimeout = time.Second
	}
	if c.TemplateMaxStack == 0 {
		c.TemplateMaxStack = 500
	}
	if c.TemplateMaxOutput == 0 {
		c.TemplateMaxOutput = 1 << 20
	}
	if c.TemplateBatchSize == 0 {
		c.TemplateBatchSize = 256
	}
	if c.TemplateMemoryLimit == 0 {
		c.TemplateMemoryLimit = 256 << 20
	}
	if c.TemplateWorkers == 0 {
		c.TemplateWorkers = 4
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate names the first bad key.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.TemplateTimeout < time.Millisecond || c.TemplateTimeout > time.Minute:
		return fmt.Errorf("templateTimeout: must be between 1ms and 1m, got %s", c.TemplateTimeout)
	case c.TemplateMaxStack < 10 || c.TemplateMaxStack > 10000:
		return fmt.Errorf("templateMaxStack: must be between 10 and 10000, got %d", c.TemplateMaxStack)
	case c.TemplateMaxOutput < 1024 || c.TemplateMaxOutput > 64<<20:
		return fmt.Errorf("templateMaxOutput: must be between 1KiB and 64MiB, got %d", c.TemplateMaxOutput)
	case c.TemplateBatchSize < 1 || c.TemplateBatchSize > 10000:
		return fmt.Errorf("templateBatchSize: must be between 1 and 10000, got %d", c.TemplateBatchSize)
	case c.TemplateMemoryLimit < 32<<20 || c.TemplateMemoryLimit > 64<<30:
		return fmt.Errorf("templateMemoryLimit: must be between 32MiB and 64GiB, got %d", c.TemplateMemoryLimit)
	case c.TemplateWorkers < 1 || c.TemplateWorkers > 64:
		return fmt.Errorf("templateWorkers: must be between 1 and 64, got %d", c.TemplateWorkers)
	}
	return nil
}
