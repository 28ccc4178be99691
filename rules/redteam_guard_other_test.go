//go:build !linux

package rules

import "errors"

func mmapGuarded(int) ([]byte, error) { return nil, errors.New("guard pages are only set up on Linux") }

func munmapGuarded([]byte) {}
