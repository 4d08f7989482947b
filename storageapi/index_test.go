package storageapi_test

import (
	"errors"
	"testing"

	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

// TestClientFollowsTheIndex: the client reads the stack's index once, finds the services it
// announces, and follows its features: on a stack with disable-legacy-bucket-prefix Storage no
// longer prefixes bucket names, so the client sends the prefix itself, as go-client does, and
// the bucket gets the same id on both kinds of stacks.
func TestClientFollowsTheIndex(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		features []string
	}{{"legacy prefix", nil}, {"no legacy prefix", []string{storageapi.FeatureNoBucketPrefix}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			em, url := startEmulator(t, func(c *emulator.Config) {
				c.Features = tc.features
				c.Services = []emulator.Service{{ID: "stream", URL: "https://stream.example.test"}}
			})
			c := newClient(t, testConfig(url, masterToken))
			ctx := testContext(t)
			idx, err := c.Stack(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := idx.HasFeature(storageapi.FeatureNoBucketPrefix); got != (tc.features != nil) {
				t.Fatalf("index features %v", idx.Features)
			}
			if u, ok, err := c.ServiceURL(ctx, "stream"); err != nil || !ok || u != "https://stream.example.test" {
				t.Fatalf("stream service = %q %v %v", u, ok, err)
			}
			if _, ok, _ := c.ServiceURL(ctx, "encryption"); ok {
				t.Fatal("a service the index does not announce was found")
			}
			for _, name := range []string{"shop", "c-orders"} {
				b, err := c.CreateBucket(ctx, storageapi.CreateBucketRequest{Stage: "in", Name: name})
				if err != nil {
					t.Fatal(err)
				}
				if want := storageapi.BucketID("in", name); b.ID != want {
					t.Fatalf("bucket %s has id %s, want %s", name, b.ID, want)
				}
				if _, err := c.GetBucket(ctx, storageapi.BucketID("in", name)); err != nil {
					t.Fatal(err)
				}
			}
			if n := em.Calls("index"); n != 1 {
				t.Fatalf("the index was read %d times, want once", n)
			}
		})
	}
}

// TestClientBranches: a client of a development branch reaches that branch's buckets and
// tables only; an unknown branch is ErrNotFound; the default branch's id gives the legacy paths.
func TestClientBranches(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, func(c *emulator.Config) { c.DefaultBranchID = 4711 })
	c := newClient(t, testConfig(url, masterToken))
	ctx := testContext(t)
	def, err := c.DefaultBranch(ctx)
	if err != nil || def.ID != 4711 {
		t.Fatalf("default branch = %+v, %v", def, err)
	}
	b, err := c.CreateBranch(ctx, "feature", "")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := c.BranchOf(ctx, b.ID)
	if err != nil || dev.Branch() != b.ID {
		t.Fatalf("branch client: %v", err)
	}
	if main, err := c.BranchOf(ctx, 4711); err != nil || main.Branch() != 0 {
		t.Fatalf("default branch client: %v", err)
	}
	if _, err := c.BranchOf(ctx, 99); !errors.Is(err, storageapi.ErrNotFound) {
		t.Fatalf("unknown branch: %v, want ErrNotFound", err)
	}
	setupTable(t, dev, "orders", []string{"id"}, nil)
	if _, err := dev.GetTable(ctx, "in.c-shop.orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTable(ctx, "in.c-shop.orders"); !errors.Is(err, storageapi.ErrNotFound) {
		t.Fatalf("the branch's table in the default branch: %v, want ErrNotFound", err)
	}
	if _, err := c.WithBranch(99).GetTable(ctx, "in.c-shop.orders"); !errors.Is(err, storageapi.ErrNotFound) {
		t.Fatalf("a table of an unknown branch: %v, want ErrNotFound", err)
	}
	if err := dev.AddColumn(ctx, "in.c-shop.orders", "extra", "STRING"); err != nil {
		t.Fatal(err)
	}
	tbl, err := dev.GetTable(ctx, "in.c-shop.orders")
	if err != nil || len(tbl.Columns) != 2 || tbl.Columns[1] != "extra" {
		t.Fatalf("after adding a column: %+v, %v", tbl, err)
	}
}
