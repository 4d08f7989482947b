//go:build race

package mapping

// raceEnabled: the race detector reserves terabytes of address space, so a worker cannot
// limit its address space and watches its heap instead (see watchMemory).
const raceEnabled = true
