package sink

import (
	"context"
	"fmt"
)

// Wait blocks until the written rows reached level in every sink, ctx ends or the manager is
// closed (ErrClosed; the rows stay on disk and continue after a restart).
//   - LevelLocal: the fsync covering the rows completed (with sync.wait=false: at once, the
//     rows are buffered). A failed sync is returned: the rows are not durable.
//   - LevelStaging: the slice holding the rows was uploaded.
//   - LevelTarget: the file holding the rows was imported into the table.
func (w *Write) Wait(ctx context.Context, level Level) error {
	if level.rank() == 0 {
		return fmt.Errorf("wait: unknown level %q", level)
	}
	for _, ref := range w.refs {
		if ref.point == nil {
			continue
		}
		if err := w.waitRef(ctx, ref, level); err != nil {
			return err
		}
	}
	return nil
}

func (w *Write) waitRef(ctx context.Context, ref writeRef, level Level) error {
	if level == LevelLocal && !ref.wait {
		return nil
	}
	if err := w.await(ctx, ref.point.Done()); err != nil {
		return err
	}
	if err := ref.point.Err(); err != nil {
		return err
	}
	switch level {
	case LevelStaging:
		return w.await(ctx, ref.slice.uploaded)
	case LevelTarget:
		return w.await(ctx, ref.slice.file.imported)
	}
	return nil
}

func (w *Write) await(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-w.m.closed:
		return ErrClosed
	}
}

// Reached reports without blocking whether the rows reached level in every sink; local
// always means fsynced here, whatever sync.wait says. Rows a sink already held when they were
// written again (see Write.Held) count once that sink holds them at level. err is a failed
// sync: the rows will never reach any level and must be written again.
func (w *Write) Reached(level Level) (bool, error) {
	for _, ref := range w.refs {
		if ref.point != nil {
			if !closed(ref.point.Done()) {
				return false, nil
			}
			if err := ref.point.Err(); err != nil {
				return false, err
			}
			if level == LevelStaging && !closed(ref.slice.uploaded) || level == LevelTarget && !closed(ref.slice.file.imported) {
				return false, nil
			}
		}
		for stream, rs := range ref.held {
			if !ref.pipe.holds(stream, rs, level) {
				return false, nil
			}
		}
	}
	return true, nil
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// WaitsForSync reports whether Wait(LevelLocal) waits for the fsync in every sink written
// (sync.wait=true everywhere). The HTTP intake answers 200 after that wait, and 202 when it
// is false: the rows are only buffered.
func (w *Write) WaitsForSync() bool {
	for _, ref := range w.refs {
		if ref.point != nil && !ref.wait {
			return false
		}
	}
	return true
}
