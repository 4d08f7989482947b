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
	// Now is the clock for id columns; default time.Now.
	Now func() time.Time `json:"-" yaml:"-"`
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
	}
	return nil
}
