package sink

import (
	"context"

	"github.com/kbridge/kbridge/sink/staging"
	"github.com/kbridge/kbridge/sink/target"
	"github.com/kbridge/kbridge/storageapi"
)

// client is the sink's Storage client: its branch, with the sink's own token when it has one.
// A sink without a token (disabled or deleted with data still waiting, or undeleted and not
// yet updated) uses the master token.
func (p *pipeline) client(ctx context.Context) (*storageapi.Client, error) {
	c, err := p.m.branchClient(ctx, p.key.BranchID)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	tok := p.def.Token
	p.mu.Unlock()
	if tok != nil {
		c = c.WithToken(tok.Secret)
	}
	return c, nil
}

func (p *pipeline) withImporter(ctx context.Context, fn func(*target.Importer) error) error {
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	return fn(target.NewImporter(c))
}

func (p *pipeline) withUploader(ctx context.Context, fn func(*staging.Uploader) error) error {
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	return fn(staging.NewUploader(c))
}
