package storageapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Branch is a development branch of the project (the default branch included).
type Branch struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Created     Time   `json:"created"`
	IsDefault   bool   `json:"isDefault"`
}

// ListBranches lists the project's branches.
func (c *Client) ListBranches(ctx context.Context) ([]Branch, error) {
	var out []Branch
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "dev-branches", out: &out}); err != nil {
		return nil, fmt.Errorf("list branches: %w", err)
	}
	return out, nil
}

// DefaultBranch is the branch dev-branches lists with isDefault: its id is the one the
// project's legacy paths act on.
func (c *Client) DefaultBranch(ctx context.Context) (*Branch, error) {
	list, err := c.ListBranches(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range list {
		if b.IsDefault {
			return &b, nil
		}
	}
	return nil, fmt.Errorf("list branches: no default branch among %d", len(list))
}

// CreateBranch creates a development branch and waits for Storage's devBranchCreate job.
func (c *Client) CreateBranch(ctx context.Context, name, description string) (*Branch, error) {
	var job Job
	body := map[string]string{"name": name, "description": description}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "dev-branches", body: body, out: &job}); err != nil {
		return nil, fmt.Errorf("create branch %q: %w", name, err)
	}
	done, err := c.WaitForJob(ctx, job.ID)
	if err != nil {
		return nil, fmt.Errorf("create branch %q: %w", name, err)
	}
	var b Branch
	if err := json.Unmarshal(done.Results, &b); err != nil || b.ID == 0 {
		return nil, fmt.Errorf("create branch %q: job %d gave no branch: %s", name, job.ID, done.Results)
	}
	return &b, nil
}

// BranchOf checks that branchID names a branch of the project and returns a client addressing
// it: the default branch's id gives the legacy paths, an unknown id is ErrNotFound.
func (c *Client) BranchOf(ctx context.Context, branchID int64) (*Client, error) {
	list, err := c.ListBranches(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range list {
		if b.ID != branchID {
			continue
		}
		if b.IsDefault {
			return c.WithBranch(0), nil
		}
		return c.WithBranch(branchID), nil
	}
	return nil, fmt.Errorf("branch %d: %w", branchID, &Error{Op: "GET /v2/storage/dev-branches", StatusCode: http.StatusNotFound,
		Code: "storage.devBranches.notFound", Message: fmt.Sprintf("Branch %d does not exist in the project.", branchID)})
}
