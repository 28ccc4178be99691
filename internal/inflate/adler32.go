package inflate

import stdadler "hash/adler32"

// adler32 is the Adler-32 checksum of p (RFC 1950).
func adler32(p []byte) uint32 { return stdadler.Checksum(p) }
