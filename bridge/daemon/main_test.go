package daemon_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The daemon's servers and pipelines leave no goroutine behind once a test has stopped them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
