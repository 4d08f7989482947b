package sink

import "syscall"

var (
	errNoSpace error = syscall.ENOSPC
	errQuota   error = syscall.EDQUOT
)
