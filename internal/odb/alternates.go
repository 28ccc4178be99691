package odb

import "path/filepath"

// OpenDirs opens the objects directory dir and, after its own alternates,
// the extra alternates: what git reads when GIT_OBJECT_DIRECTORY and
// GIT_ALTERNATE_OBJECT_DIRECTORIES are set, as they are for a pre-receive
// hook whose push is still quarantined (the new objects in a directory of
// their own, the repository's objects as an alternate).
func OpenDirs(dir string, alternates []string) (*DB, error) {
	db := &DB{cache: newBaseCache(baseCacheSize)}
	seen := map[string]bool{}
	if err := db.addDir(dir, seen, 0); err != nil {
		return nil, err
	}
	for _, alt := range alternates {
		if alt == "" {
			continue
		}
		if !filepath.IsAbs(alt) {
			alt = filepath.Join(dir, alt)
		}
		if err := db.addDir(alt, seen, 1); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}
