package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Recover makes a slice left by a crash consistent: the data file is truncated to the size
// recorded by the last complete sync-log line, so a torn row or gzip member is cut off, and
// the statistics and stream ranges of that line are returned. A missing sync log means no
// sync completed: the data file is emptied.
func Recover(fsys FS, path string) (Stats, error) {
	log, err := os.ReadFile(path + ".sync")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Stats{}, fmt.Errorf("recover slice %s: %w", path, err)
	}
	rec, streams := lastRecord(log)
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) && rec.Size == 0 {
		return Stats{}, nil
	}
	if err != nil {
		return Stats{}, fmt.Errorf("recover slice %s: %w", path, err)
	}
	if info.Size() < rec.Size {
		return Stats{}, fmt.Errorf("recover slice %s: file has %d bytes, the sync log records %d", path, info.Size(), rec.Size)
	}
	if info.Size() > rec.Size {
		f, err := fsys.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return Stats{}, fmt.Errorf("recover slice %s: %w", path, err)
		}
		err = f.Truncate(rec.Size)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Stats{}, fmt.Errorf("recover slice %s: truncate to %d: %w", path, rec.Size, err)
		}
	}
	st := Stats{Records: rec.Records, UncompressedSize: rec.Uncompressed, CompressedSize: rec.Size,
		FirstRecordAt: rec.FirstRecordAt, LastRecordAt: rec.LastRecordAt}
	if len(streams) > 0 {
		st.Streams = streams
	}
	return st, nil
}
