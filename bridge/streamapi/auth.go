package streamapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/storageapi"
)

// Token is a verified Storage API token as the API needs it.
type Token struct {
	ID          string
	Description string
	ProjectID   int64
	// Admin tokens may write (create, update, delete, enable, disable, rotate).
	Admin bool
}

// Tokens verifies Storage API tokens. Verify is called concurrently; an unknown or expired
// token is an error matching storageapi.ErrUnauthorized.
type Tokens interface {
	Verify(ctx context.Context, token string) (Token, error)
}

// StorageTokens verifies tokens with the Storage API (tokens/verify) through c, which is
// used only with each caller's token. A master token counts as admin (Keboola's master tokens
// belong to project administrators).
func StorageTokens(c *storageapi.Client) Tokens { return storageTokens{c} }

type storageTokens struct{ c *storageapi.Client }

func (s storageTokens) Verify(ctx context.Context, token string) (Token, error) {
	t, err := s.c.WithToken(token).VerifyToken(ctx)
	if err != nil {
		return Token{}, err
	}
	return Token{ID: t.ID, Description: t.Description, ProjectID: t.ProjectID(), Admin: t.IsMasterToken}, nil
}

// tokenCache remembers verified tokens for a TTL; failures are not cached. A fresh verification
// (writes ask for one) skips the cache, so a deleted token never changes a definition.
type tokenCache struct {
	tokens Tokens
	ttl    time.Duration
	now    func() time.Time
	mu     sync.Mutex
	items  map[string]cachedToken
}

type cachedToken struct {
	tok     Token
	expires time.Time
}

const maxCachedTokens = 10000

func (c *tokenCache) verify(ctx context.Context, secret string, fresh bool) (Token, error) {
	now := c.now()
	c.mu.Lock()
	if it, ok := c.items[secret]; ok && now.Before(it.expires) && !fresh {
		c.mu.Unlock()
		return it.tok, nil
	}
	c.mu.Unlock()
	tok, err := c.tokens.Verify(ctx, secret)
	if err != nil {
		c.mu.Lock()
		delete(c.items, secret)
		c.mu.Unlock()
		return Token{}, err
	}
	if c.ttl > 0 {
		c.mu.Lock()
		if c.items == nil || len(c.items) >= maxCachedTokens {
			c.items = map[string]cachedToken{}
		}
		c.items[secret] = cachedToken{tok: tok, expires: now.Add(c.ttl)}
		c.mu.Unlock()
	}
	return tok, nil
}

// authenticate reads X-StorageApi-Token (or Authorization: Bearer) and verifies it.
func (s *Server) authenticate(r *http.Request, write bool) (Token, error) {
	secret := r.Header.Get("X-StorageApi-Token")
	if secret == "" {
		if v, ok := cutPrefixFold(r.Header.Get("Authorization"), "Bearer "); ok {
			secret = v
		}
	}
	if secret == "" {
		return Token{}, httperr.New(http.StatusBadRequest, "stream.api.missingField", `"X-StorageApi-Token" is missing from header.`)
	}
	tok, err := s.tokens.verify(r.Context(), secret, write)
	switch {
	case errors.Is(err, storageapi.ErrUnauthorized), errors.Is(err, storageapi.ErrForbidden), errors.Is(err, storageapi.ErrNotFound):
		return Token{}, httperr.New(http.StatusUnauthorized, "stream.api.unauthorized", "Invalid storage token.")
	case err != nil:
		e := httperr.New(http.StatusServiceUnavailable, "stream.api.storageApiUnavailable", "Cannot verify the token with the Storage API, please retry.")
		e.Err, e.RetryAfter = err, time.Second
		return Token{}, e
	}
	if write && !tok.Admin {
		return Token{}, httperr.New(http.StatusForbidden, "stream.api.forbidden", "only admin token can do write operations on streams")
	}
	return tok, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}
