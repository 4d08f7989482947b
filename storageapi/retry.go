package storageapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// withRetry runs fn until it succeeds, fails with a non-retryable error, runs out of
// attempts or elapsed time, or ctx ends. A Retry-After carried by the error is a lower
// bound of the next wait. It returns the number of attempts made.
func (c *Client) withRetry(ctx context.Context, retryable func(error) bool, fn func(ctx context.Context) error) (int, error) {
	b := c.newBackOff()
	var previous error
	for attempts := 1; ; attempts++ {
		err := fn(ctx)
		if err != nil && previous != nil && ctx.Err() != nil {
			return attempts, fmt.Errorf("%w (previous attempt: %w)", err, previous)
		}
		if err == nil || !retryable(err) || attempts >= c.cfg.Retry.MaxAttempts {
			return attempts, err
		}
		previous = err
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return attempts, err
		}
		var apiErr *Error
		if errors.As(err, &apiErr) && apiErr.RetryAfter > wait {
			wait = apiErr.RetryAfter
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return attempts, fmt.Errorf("%w (retry abandoned: %w)", err, serr)
		}
	}
}

func (c *Client) newBackOff() *backoff.ExponentialBackOff {
	r := c.cfg.Retry
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.InitialInterval),
		backoff.WithMaxInterval(r.MaxInterval),
		backoff.WithMaxElapsedTime(r.MaxElapsedTime),
		backoff.WithMultiplier(r.Multiplier),
		backoff.WithRandomizationFactor(r.Jitter),
	)
}

// sleepContext waits d or until ctx ends, returning the context's cause.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// isRefused reports failures after which the server surely did not act on the request:
// 429, 503 or a connection that could not be opened.
func isRefused(err error) bool {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode == http.StatusServiceUnavailable
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}
