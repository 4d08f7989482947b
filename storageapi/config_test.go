package storageapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/storageapi"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := func() storageapi.Config {
		c := storageapi.DefaultConfig()
		c.URL, c.Token = "https://connection.keboola.com", "secret"
		return c
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := map[string]struct {
		mutate func(*storageapi.Config)
		key    string
	}{
		"missing url":         {func(c *storageapi.Config) { c.URL = "" }, "url: must be set"},
		"url without scheme":  {func(c *storageapi.Config) { c.URL = "connection.keboola.com" }, "url:"},
		"missing token":       {func(c *storageapi.Config) { c.Token = "" }, "token: must be set"},
		"zero timeout":        {func(c *storageapi.Config) { c.RequestTimeout = 0 }, "requestTimeout:"},
		"zero upload timeout": {func(c *storageapi.Config) { c.UploadTimeout = 0 }, "uploadTimeout:"},
		"no attempts":         {func(c *storageapi.Config) { c.Retry.MaxAttempts = 0 }, "retry.maxAttempts:"},
		"max below initial":   {func(c *storageapi.Config) { c.Retry.MaxInterval = time.Millisecond }, "retry.maxInterval:"},
		"jitter too big":      {func(c *storageapi.Config) { c.Retry.Jitter = 1 }, "retry.jitter:"},
		"multiplier below 1":  {func(c *storageapi.Config) { c.Retry.Multiplier = 0.5 }, "retry.multiplier:"},
		"poll max below init": {func(c *storageapi.Config) { c.JobPoll.MaxInterval = time.Millisecond }, "jobPoll.maxInterval:"},
		"bad s3 endpoint":     {func(c *storageapi.Config) { c.S3Endpoint = "::" }, "s3Endpoint:"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tc.key)
			}
			if _, err := storageapi.New(c); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}
