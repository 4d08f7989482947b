package storageapi_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

func TestIndexAndVerifyToken(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t)
	ctx := testContext(t)
	c := newClient(t, testConfig(url, masterToken))

	idx, err := c.Index(ctx)
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	if idx.API != "storage" || idx.Version != "v2" || idx.HasFeature("disable-legacy-bucket-prefix") {
		t.Fatalf("index = %+v", idx)
	}
	tok, err := c.VerifyToken(ctx)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !tok.IsMasterToken || tok.ProjectID() != 1 || !tok.CanWriteBucket("in.c-any") || tok.Owner.FileStorageProvider != "azure" {
		t.Fatalf("token = %+v", tok)
	}

	_, err = newClient(t, testConfig(url, "wrong")).VerifyToken(ctx)
	assertAPIError(t, err, storageapi.ErrUnauthorized, http.StatusUnauthorized, "storage.tokenInvalid")
}

func TestBuckets(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t)
	ctx := testContext(t)
	c := newClient(t, testConfig(url, masterToken))

	_, err := c.GetBucket(ctx, "in.c-shop")
	assertAPIError(t, err, storageapi.ErrNotFound, http.StatusNotFound, "storage.buckets.notFound")

	b, err := c.CreateBucket(ctx, storageapi.CreateBucketRequest{Name: "shop", Description: "orders"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if b.ID != "in.c-shop" || b.Name != "c-shop" || b.Stage != "in" || b.Description != "orders" || b.Created.IsZero() {
		t.Fatalf("created bucket = %+v", b)
	}
	got, err := c.GetBucket(ctx, storageapi.BucketID("in", "shop"))
	if err != nil || got.ID != b.ID || got.DisplayName != "shop" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	_, err = c.CreateBucket(ctx, storageapi.CreateBucketRequest{Name: "c-shop"})
	assertAPIError(t, err, storageapi.ErrAlreadyExists, http.StatusBadRequest, "storage.buckets.alreadyExists")

	_, err = c.CreateBucket(ctx, storageapi.CreateBucketRequest{Name: "bad name!"})
	assertAPIError(t, err, storageapi.ErrInvalidRequest, http.StatusBadRequest, "storage.validation")

	list, err := c.ListBuckets(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "in.c-shop" {
		t.Fatalf("list = %+v, %v", list, err)
	}
}

func TestTables(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t)
	ctx := testContext(t)
	c := newClient(t, testConfig(url, masterToken))

	_, err := c.GetTable(ctx, "in.c-shop.orders")
	assertAPIError(t, err, storageapi.ErrNotFound, http.StatusNotFound, "storage.tables.notFound")

	created := setupTable(t, c, "orders", []string{"id", "ts", "payload"}, []string{"id"})
	if created.ID != "in.c-shop.orders" || !slices.Equal(created.Columns, []string{"id", "ts", "payload"}) || !slices.Equal(created.PrimaryKey, []string{"id"}) {
		t.Fatalf("created = %+v", created)
	}
	got, err := c.GetTable(ctx, "in.c-shop.orders")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Bucket.ID != "in.c-shop" || got.RowsCount != 0 || got.Definition == nil || got.Definition.Columns[0].BaseType != "STRING" {
		t.Fatalf("get = %+v", got)
	}
	_, err = c.CreateTable(ctx, "in.c-shop", storageapi.CreateTableRequest{Name: "orders", Columns: []string{"id"}})
	assertAPIError(t, err, storageapi.ErrAlreadyExists, http.StatusBadRequest, "storage.tables.alreadyExists")

	_, err = c.CreateTable(ctx, "in.c-missing", storageapi.CreateTableRequest{Name: "x", Columns: []string{"id"}})
	assertAPIError(t, err, storageapi.ErrNotFound, http.StatusNotFound, "storage.buckets.notFound")

	_, err = c.CreateTable(ctx, "in.c-shop", storageapi.CreateTableRequest{Name: "x", Columns: []string{"id"}, PrimaryKey: []string{"nope"}})
	assertAPIError(t, err, storageapi.ErrInvalidRequest, http.StatusBadRequest, "storage.validation")

	meta := map[string]string{"KBC.stream.sink.id": "sink1", "KBC.stream.source.id": "src1"}
	if err := c.SetTableMetadata(ctx, "in.c-shop.orders", "kbridge", meta); err != nil {
		t.Fatalf("set metadata: %v", err)
	}
	withMeta, err := c.GetTable(ctx, "in.c-shop.orders")
	if err != nil || len(withMeta.Metadata) != 2 || withMeta.Metadata[0].Key != "KBC.stream.sink.id" || withMeta.Metadata[0].Value != "sink1" || withMeta.Metadata[1].Provider != "kbridge" {
		t.Fatalf("metadata = %+v, %v", withMeta.Metadata, err)
	}

	tables, err := c.ListTables(ctx)
	if err != nil || len(tables) != 1 || tables[0].ID != "in.c-shop.orders" {
		t.Fatalf("list = %+v, %v", tables, err)
	}
}

func TestCheckColumns(t *testing.T) {
	t.Parallel()
	tbl := &storageapi.Table{ID: "in.c-shop.orders", Columns: []string{"id", "ts", "payload"}, PrimaryKey: []string{"id"}}
	cases := map[string]struct {
		columns, pk []string
		wantErr     string // substring; empty means no error
	}{
		"same":              {[]string{"id", "ts", "payload"}, []string{"id"}, ""},
		"other order":       {[]string{"payload", "id", "ts"}, []string{"id"}, ""},
		"missing column":    {[]string{"id", "ts", "payload", "ip"}, []string{"id"}, "missing columns [ip]"},
		"unexpected column": {[]string{"id", "payload"}, []string{"id"}, "unexpected columns [ts]"},
		"other primary key": {[]string{"id", "ts", "payload"}, []string{"id", "ts"}, "primary key is [id], want [id, ts]"},
		"no primary key":    {[]string{"id", "ts", "payload"}, nil, "primary key is [id], want []"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tbl.CheckColumns(tc.columns, tc.pk)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckColumns = %v, want nil", err)
				}
				return
			}
			var mismatch *storageapi.ColumnsMismatchError
			if !errors.Is(err, storageapi.ErrColumnsMismatch) || !errors.As(err, &mismatch) || mismatch.TableID != tbl.ID {
				t.Fatalf("CheckColumns = %#v, want a ColumnsMismatchError", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "in.c-shop.orders") {
				t.Fatalf("error %q does not name %q", err, tc.wantErr)
			}
		})
	}
}

func TestScopedToken(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, func(c *emulator.Config) {
		c.Tokens = []emulator.TokenConfig{{Token: "reader", Description: "read shop", BucketPermissions: map[string]string{"in.c-shop": "read"}}}
	})
	ctx := testContext(t)
	master := newClient(t, testConfig(url, masterToken))
	setupTable(t, master, "orders", []string{"id"}, nil)
	if _, err := master.CreateBucket(ctx, storageapi.CreateBucketRequest{Name: "other"}); err != nil {
		t.Fatal(err)
	}

	reader := newClient(t, testConfig(url, "reader"))
	if _, err := reader.GetTable(ctx, "in.c-shop.orders"); err != nil {
		t.Fatalf("reader get table: %v", err)
	}
	_, err := reader.GetBucket(ctx, "in.c-other")
	assertAPIError(t, err, storageapi.ErrForbidden, http.StatusForbidden, "storage.accessDenied")
	_, err = reader.CreateBucket(ctx, storageapi.CreateBucketRequest{Name: "mine"})
	assertAPIError(t, err, storageapi.ErrForbidden, http.StatusForbidden, "storage.accessDenied")
	f, err := reader.PrepareFile(ctx, storageapi.PrepareFileRequest{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = reader.ImportFile(ctx, "in.c-shop.orders", f.ID, storageapi.ImportOptions{})
	assertAPIError(t, err, storageapi.ErrForbidden, http.StatusForbidden, "storage.accessDenied")

	// A token created through the API: write access to one bucket, sees only its own files.
	sink, err := master.CreateToken(ctx, storageapi.CreateTokenRequest{Description: "[_internal] Stream Sink src1/sink1", BucketPermissions: map[string]string{"in.c-shop": "write"}})
	if err != nil || sink.Token == "" || sink.IsMasterToken || !sink.CanWriteBucket("in.c-shop") || sink.CanWriteBucket("in.c-other") {
		t.Fatalf("create token = %+v, %v", sink, err)
	}
	sinkClient := master.WithToken(sink.Token)
	verified, err := sinkClient.VerifyToken(ctx)
	if err != nil || verified.ID != sink.ID || verified.BucketPermissions["in.c-shop"] != "write" {
		t.Fatalf("verify sink token = %+v, %v", verified, err)
	}
	files, err := sinkClient.ListFiles(ctx, storageapi.ListFilesRequest{})
	if err != nil || len(files) != 0 {
		t.Fatalf("sink token lists %d files of others, err %v", len(files), err)
	}
	if err := master.DeleteToken(ctx, sink.ID); err != nil {
		t.Fatalf("delete token: %v", err)
	}
	_, err = sinkClient.VerifyToken(ctx)
	assertAPIError(t, err, storageapi.ErrUnauthorized, http.StatusUnauthorized, "storage.tokenInvalid")
	if err := master.DeleteToken(ctx, sink.ID); err != nil {
		t.Fatalf("deleting a deleted token: %v", err)
	}
}

// assertAPIError checks the sentinel, status and code of a *storageapi.Error.
func assertAPIError(t *testing.T, err, sentinel error, status int, code string) {
	t.Helper()
	var apiErr *storageapi.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T) is not a *storageapi.Error", err, err)
	}
	if !errors.Is(err, sentinel) || apiErr.StatusCode != status || apiErr.Code != code {
		t.Fatalf("error %v: status %d code %q, want %d %q and errors.Is %v", err, apiErr.StatusCode, apiErr.Code, status, code, sentinel)
	}
	if apiErr.RequestID == "" || apiErr.Message == "" {
		t.Fatalf("error %v carries no request id or message", err)
	}
}
