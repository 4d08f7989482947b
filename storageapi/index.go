package storageapi

import (
	"context"
	"slices"
	"sync"
)

// FeatureNoBucketPrefix is the stack feature under which Storage takes a bucket's name as
// given instead of prefixing it with "c-".
const FeatureNoBucketPrefix = "disable-legacy-bucket-prefix"

// indexCache holds the stack's index once read: it names the stack's services and features
// and does not change while a process runs.
type indexCache struct {
	mu  sync.Mutex
	idx *Index
}

// Stack returns the stack's index, read once (GET /v2/storage/?exclude=components, as
// Keboola's clients start) and kept; a failed read is retried by the next call.
func (c *Client) Stack(ctx context.Context) (*Index, error) {
	c.index.mu.Lock()
	defer c.index.mu.Unlock()
	if c.index.idx != nil {
		return c.index.idx, nil
	}
	idx, err := c.Index(ctx)
	if err != nil {
		return nil, err
	}
	c.index.idx = idx
	return idx, nil
}

// ServiceURL is the URL of a service the index announces (e.g. "encryption", "stream");
// ok is false when the stack has no such service.
func (c *Client) ServiceURL(ctx context.Context, id string) (url string, ok bool, err error) {
	idx, err := c.Stack(ctx)
	if err != nil {
		return "", false, err
	}
	i := slices.IndexFunc(idx.Services, func(s Service) bool { return s.ID == id })
	if i < 0 {
		return "", false, nil
	}
	return idx.Services[i].URL, true, nil
}
