package emulator

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Table rows on disk, so that an import costs what it brings, not what the table holds:
//
//   - tables/<id>.csv: the header, then every row version written since the last full load,
//     in CSV. A full load replaces it; an import into a table without a primary key appends
//     its rows; an upsert appends the new version of each row it brings.
//   - tables/<id>.slots: present once an upsert replaced a row. Per row of the table, in
//     table order, the byte offset in the CSV of its current version (int64, little endian).
//     A replaced row keeps its slot (its place in the table); a new key gets the next slot.
//     Without it every row of the CSV is current, in file order.
//
// Upserts find a row's slot through a key index built once per process from the table (a
// 64-bit hash of the key per slot, checked against the row on disk on a hit) and kept up to
// date by every import. Rows are never all loaded into memory by an import: its memory is
// the import's rows, the index and the slot offsets (about 30 bytes per row of the table).
// Every reader of rows goes through eachRowLocked (or readRowsLocked).

// keyIndex finds the slot of a primary key in a table; it lives in Emulator.keys.
type keyIndex struct {
	seed     maphash.Seed
	hashes   map[uint64]int32 // key hash → slot
	overflow map[string]int32 // keys whose hash another key took first
	offsets  []int64          // per slot, the offset of its current version in the CSV
	pk       []int            // primary key column indexes
}

func (e *Emulator) tablePath(id string) string {
	return filepath.Join(e.cfg.DataDir, "tables", id+".csv")
}

func (e *Emulator) slotsPath(id string) string {
	return filepath.Join(e.cfg.DataDir, "tables", id+".slots")
}

// readRowsLocked reads a table's rows (without the header) in table order; e.mu must be held.
func (e *Emulator) readRowsLocked(t *table) ([][]string, error) {
	var rows [][]string
	err := e.eachRowLocked(t, func(_ int64, row []string) error {
		rows = append(rows, row)
		return nil
	})
	return rows, err
}

// ReadTableRows returns the rows of table id (header excluded, in table order) from an
// emulator's data directory, as data-preview would without its limit: for tests and tools
// that check what a table holds. Read it while no import runs into the table.
func ReadTableRows(dataDir, id string) ([][]string, error) {
	e := &Emulator{cfg: Config{DataDir: dataDir}}
	var rows [][]string
	err := e.eachRowLocked(&table{ID: id}, func(_ int64, row []string) error {
		rows = append(rows, row)
		return nil
	})
	return rows, err
}

// eachRowLocked calls fn with each current row of the table in table order and the offset of
// the row in the CSV; e.mu must be held. An error from fn stops the walk and is returned.
func (e *Emulator) eachRowLocked(t *table, fn func(offset int64, row []string) error) error {
	f, err := os.Open(e.tablePath(t.key()))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read table %s: %w", t.ID, err)
	}
	defer f.Close()
	offsets, err := readSlots(e.slotsPath(t.key()))
	if err != nil {
		return fmt.Errorf("read table %s: %w", t.ID, err)
	}
	c := &rowCursor{f: f}
	if offsets == nil { // every row of the file is current
		if _, err := c.at(0); err != nil && !errors.Is(err, io.EOF) { // the header
			return fmt.Errorf("parse table %s: %w", t.ID, err)
		}
		for {
			off := c.pos
			row, err := c.at(off)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("parse table %s: %w", t.ID, err)
			}
			if err := fn(off, row); err != nil {
				return err
			}
		}
	}
	for _, off := range offsets {
		row, err := c.at(off)
		if err != nil {
			return fmt.Errorf("parse table %s at %d: %w", t.ID, off, err)
		}
		if err := fn(off, row); err != nil {
			return err
		}
	}
	return nil
}

// rowCursor reads CSV rows at offsets of a file, sequentially while they follow each other.
type rowCursor struct {
	f    *os.File
	size int // read buffer; 64 KiB when 0
	r    *csv.Reader
	base int64 // where r started
	pos  int64 // the offset after the last row read
}

func (c *rowCursor) at(off int64) ([]string, error) {
	if c.r == nil || off != c.pos {
		size := c.size
		if size == 0 {
			size = 64 << 10
		}
		c.r = csv.NewReader(bufio.NewReaderSize(io.NewSectionReader(c.f, off, math.MaxInt64-off), size))
		c.r.FieldsPerRecord = -1
		c.base, c.pos = off, off
	}
	row, err := c.r.Read()
	c.pos = c.base + c.r.InputOffset()
	return row, err
}

// readSlots returns the slot offsets of a table, nil when every row of its CSV is current.
func readSlots(path string) ([]int64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("slots: %w", err)
	}
	if len(data)%8 != 0 {
		return nil, fmt.Errorf("slots: %d bytes, not a multiple of 8", len(data))
	}
	out := make([]int64, len(data)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(data[i*8:]))
	}
	return out, nil
}

// writeRowsLocked replaces a table's rows atomically and updates its counters; e.mu must be held.
func (e *Emulator) writeRowsLocked(t *table, rows [][]string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(t.Columns); err != nil {
		return fmt.Errorf("write table %s: %w", t.ID, err)
	}
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("write table %s: %w", t.ID, err)
	}
	delete(e.keys, t.key())
	if err := os.Remove(e.slotsPath(t.key())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write table %s: %w", t.ID, err)
	}
	if err := writeFileAtomic(e.tablePath(t.key()), buf.Bytes()); err != nil {
		return err
	}
	t.RowsCount = int64(len(rows))
	t.DataSizeBytes = int64(buf.Len())
	return nil
}

// appendRowsLocked appends rows to a table without a primary key and updates its counters;
// e.mu must be held.
func (e *Emulator) appendRowsLocked(t *table, rows [][]string) error {
	if _, _, err := e.appendCSVLocked(t, rows); err != nil {
		return err
	}
	t.RowsCount += int64(len(rows))
	return nil
}

// appendCSVLocked appends rows to the table's CSV, fsyncs it and returns the offset of each
// row and the file size before the append (to cut back to). The file gets its header when it
// has none yet. A failed append is cut back, so the file holds either the old rows or the old
// and the new ones.
func (e *Emulator) appendCSVLocked(t *table, rows [][]string) ([]int64, int64, error) {
	path := e.tablePath(t.key())
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, 0, fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if info.Size() == 0 {
		_ = w.Write(t.Columns)
		w.Flush()
	}
	offsets := make([]int64, len(rows))
	for i, row := range rows {
		offsets[i] = info.Size() + int64(buf.Len())
		_ = w.Write(row)
		w.Flush()
	}
	if err := w.Error(); err != nil {
		return nil, 0, fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	if _, err = f.Write(buf.Bytes()); err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Truncate(info.Size())
		return nil, 0, fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	t.DataSizeBytes = info.Size() + int64(buf.Len())
	return offsets, info.Size(), nil
}

// upsertRowsLocked merges rows into a table with a primary key: a row whose key the table
// holds replaces it in place, a new key is added at the end, the last row of a key wins.
// Only the new row versions are written; e.mu must be held.
func (e *Emulator) upsertRowsLocked(t *table, rows [][]string) error {
	idx, err := e.keyIndexLocked(t)
	if err != nil {
		return err
	}
	f, err := os.Open(e.tablePath(t.key()))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("upsert into table %s: %w", t.ID, err)
	}
	if f != nil {
		defer f.Close()
	}
	// Slots of the table get the import's last row of their key; new keys get new slots.
	existing := int32(len(idx.offsets))
	latest := map[int32]int{}     // slot → import row
	var added []int32             // new slots, in order
	fresh := map[uint64][]int32{} // new slots by key hash: their rows are not on disk yet
	for i, row := range rows {
		k := idx.key(row)
		slot, ok, err := idx.find(k, f, rows, latest, fresh)
		if err != nil {
			return fmt.Errorf("upsert into table %s: %w", t.ID, err)
		}
		if !ok {
			slot = existing + int32(len(added))
			added = append(added, slot)
			h := maphash.String(idx.seed, k)
			fresh[h] = append(fresh[h], slot)
		}
		latest[slot] = i
	}
	var replaced []int32
	for slot := range latest {
		if slot < existing {
			replaced = append(replaced, slot)
		}
	}
	slices.Sort(replaced)
	order := slices.Concat(replaced, added)
	out := make([][]string, len(order))
	for i, slot := range order {
		out[i] = rows[latest[slot]]
	}
	offsets, before, err := e.appendCSVLocked(t, out)
	if err != nil {
		return err
	}
	if err := e.writeSlotsLocked(t, idx, order[:len(replaced)], offsets); err != nil {
		if f, oerr := os.OpenFile(e.tablePath(t.key()), os.O_WRONLY, 0); oerr == nil {
			_ = f.Truncate(before)
			f.Close()
		}
		delete(e.keys, t.key()) // rebuilt from disk at the next upsert
		return err
	}
	for i, slot := range order {
		if slot < existing {
			idx.offsets[slot] = offsets[i]
			continue
		}
		idx.offsets = append(idx.offsets, offsets[i])
		idx.add(idx.key(out[i]), slot)
	}
	t.RowsCount = int64(len(idx.offsets))
	return nil
}

// writeSlotsLocked records the new offsets in the slots file: replaced slots in place, new
// slots at its end. The file is created (with every slot) by the first upsert that replaces
// a row; before that, new rows need no entry.
func (e *Emulator) writeSlotsLocked(t *table, idx *keyIndex, replaced []int32, offsets []int64) error {
	path := e.slotsPath(t.key())
	_, err := os.Stat(path)
	exists := err == nil
	if !exists && len(replaced) == 0 {
		return nil
	}
	if !exists {
		all := slices.Clone(idx.offsets)
		for i, slot := range replaced {
			all[slot] = offsets[i]
		}
		all = append(all, offsets[len(replaced):]...)
		data := make([]byte, 8*len(all))
		for i, off := range all {
			binary.LittleEndian.PutUint64(data[i*8:], uint64(off))
		}
		return writeFileAtomic(path, data)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write table %s slots: %w", t.ID, err)
	}
	defer f.Close()
	var b [8]byte
	for i, slot := range replaced {
		binary.LittleEndian.PutUint64(b[:], uint64(offsets[i]))
		if _, err := f.WriteAt(b[:], int64(slot)*8); err != nil {
			return fmt.Errorf("write table %s slots: %w", t.ID, err)
		}
	}
	tail := make([]byte, 8*(len(offsets)-len(replaced)))
	for i, off := range offsets[len(replaced):] {
		binary.LittleEndian.PutUint64(tail[i*8:], uint64(off))
	}
	if _, err := f.WriteAt(tail, int64(len(idx.offsets))*8); err != nil {
		return fmt.Errorf("write table %s slots: %w", t.ID, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write table %s slots: %w", t.ID, err)
	}
	return nil
}

// keyIndexLocked returns the key index of a table, building it from the table's rows the
// first time; e.mu must be held.
func (e *Emulator) keyIndexLocked(t *table) (*keyIndex, error) {
	if idx := e.keys[t.key()]; idx != nil {
		return idx, nil
	}
	idx := &keyIndex{seed: maphash.MakeSeed(), hashes: map[uint64]int32{}, overflow: map[string]int32{}}
	for _, c := range t.PrimaryKey {
		idx.pk = append(idx.pk, slices.Index(t.Columns, c))
	}
	err := e.eachRowLocked(t, func(off int64, row []string) error {
		idx.add(idx.key(row), int32(len(idx.offsets)))
		idx.offsets = append(idx.offsets, off)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if e.keys == nil {
		e.keys = map[string]*keyIndex{}
	}
	e.keys[t.key()] = idx
	return idx, nil
}

// key is the primary key of a row, its values joined by NUL.
func (idx *keyIndex) key(row []string) string {
	if len(idx.pk) == 1 {
		return row[idx.pk[0]]
	}
	parts := make([]string, len(idx.pk))
	for i, j := range idx.pk {
		parts[i] = row[j]
	}
	return strings.Join(parts, "\x00")
}

func (idx *keyIndex) add(k string, slot int32) {
	h := maphash.String(idx.seed, k)
	if _, taken := idx.hashes[h]; taken {
		idx.overflow[k] = slot
		return
	}
	idx.hashes[h] = slot
}

// find returns the slot holding key k: one of the table (its row read from f to rule out a
// hash collision) or one added by this import (fresh, rows of the import by latest).
func (idx *keyIndex) find(k string, f *os.File, rows [][]string, latest map[int32]int, fresh map[uint64][]int32) (int32, bool, error) {
	if slot, ok := idx.overflow[k]; ok {
		return slot, true, nil
	}
	h := maphash.String(idx.seed, k)
	for _, slot := range fresh[h] {
		if idx.key(rows[latest[slot]]) == k {
			return slot, true, nil
		}
	}
	slot, ok := idx.hashes[h]
	if !ok || f == nil {
		return 0, false, nil
	}
	c := &rowCursor{f: f, size: 4 << 10}
	row, err := c.at(idx.offsets[slot])
	if err != nil {
		return 0, false, fmt.Errorf("read row %d: %w", slot, err)
	}
	if idx.key(row) != k {
		return 0, false, nil // another key with the same hash
	}
	return slot, true, nil
}
