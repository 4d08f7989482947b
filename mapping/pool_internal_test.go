package mapping

import (
	"testing"
	"time"
)

// One program never holds every worker: with two workers, a program that holds one waits for
// it even though the other is free, and another program gets the free one.
func TestPoolSharePerProgram(t *testing.T) {
	p := poolFor(Config{TemplateWorkers: 2, TemplateMemoryLimit: 48 << 20})
	if p == nil {
		t.Fatal("no worker pool: TestMain must call InitWorkers")
	}
	const a, b = 1, 2
	wa, err := p.acquire(a)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := p.acquire(b)
	if err != nil {
		t.Fatal(err)
	}
	p.release(b, wb)
	acquired := make(chan *workerProc)
	go func() {
		w, err := p.acquire(a)
		if err != nil {
			t.Error(err)
		}
		acquired <- w
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		p.mu.Lock()
		waiting, busy := p.waiting, p.busy
		p.mu.Unlock()
		if waiting == 1 {
			if busy != 1 {
				t.Fatalf("%d workers busy while program a waits, want 1", busy)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second acquire of program a did not wait")
		}
	}
	p.release(a, wa)
	p.release(a, <-acquired)
}
