package main

import "github.com/urfave/cli/v2"

// archiveDepth turns --max-archive-depth into scanner.Options'
// MaxArchiveDepth, where 0 means the default: there, a negative depth
// turns archives off. A command without the flag gets the default.
func archiveDepth(c *cli.Context) int {
	if c.Value("max-archive-depth") == nil {
		return 0
	}
	if n := c.Uint("max-archive-depth"); n > 0 {
		return int(min(n, 1<<16))
	}
	return -1
}
