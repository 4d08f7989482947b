package sink_test

import (
	"errors"

	"github.com/kbridge/kbridge/mapping"
)

type mappingColumnError = mapping.ColumnError

func errorsIs(err, target error) bool     { return errors.Is(err, target) }
func errorsAs(err error, target any) bool { return errors.As(err, target) }
