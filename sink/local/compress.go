package local

import (
	stdgzip "compress/gzip"
	"io"

	kgzip "github.com/klauspost/compress/gzip"
)

// compressor turns rows into the bytes of the data file. Close ends the current unit (a gzip
// member) and Reset starts the next one into w without allocating.
type compressor interface {
	io.Writer
	Close() error
	Reset(w io.Writer)
}

// newCompressor returns the slice's compressor writing into w.
func newCompressor(cfg Config, w io.Writer) (compressor, error) {
	if cfg.Compression == CompressionNone {
		return &plain{w: w}, nil
	}
	if cfg.GzipImplementation == GzipStandard {
		return stdgzip.NewWriterLevel(w, cfg.GzipLevel)
	}
	return kgzip.NewWriterLevel(w, cfg.GzipLevel)
}

// plain writes rows as they are.
type plain struct{ w io.Writer }

func (p *plain) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *plain) Close() error                { return nil }
func (p *plain) Reset(w io.Writer)           { p.w = w }
