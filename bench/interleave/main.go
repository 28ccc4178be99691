// Command interleave times commands the way bench/ compares them: in
// turns, one run of each command after the other, so that a machine whose
// load changes during the measurement (other builds, other benchmarks)
// weighs on every command alike, which hyperfine's one command after the
// other does not. Each run's wall time is measured around fork and wait;
// its CPU time (user and system) and page faults come from wait4's
// resource usage. The results are written as hyperfine's --export-json
// writes them (bench/lib.sh's ratios reads either), with the page faults'
// median added.
//
//	interleave [-r RUNS] [-w WARMUP] -json FILE -n NAME 'CMD ARG…' [-n NAME 'CMD ARG…']…
//
// Commands are split at white space and run without a shell; their output
// is discarded and their exit status ignored (git diff --quiet exits 1).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type command struct {
	name string
	argv []string
	wall []float64 // seconds
	user []float64
	sys  []float64
	flt  []float64
}

type result struct {
	Command string  `json:"command"`
	Mean    float64 `json:"mean"`
	Median  float64 `json:"median"`
	Min     float64 `json:"min"`
	User    float64 `json:"user"`
	System  float64 `json:"system"`
	Faults  float64 `json:"page_faults_median"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "interleave:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	runs, warmup, out := 100, 10, ""
	var cmds []*command
	for len(args) > 0 {
		if len(args) < 2 {
			return fmt.Errorf("%s needs a value", args[0])
		}
		var err error
		switch args[0] {
		case "-r":
			runs, err = strconv.Atoi(args[1])
		case "-w":
			warmup, err = strconv.Atoi(args[1])
		case "-json":
			out = args[1]
		case "-n":
			if len(args) < 3 {
				return errors.New("-n needs a name and a command")
			}
			argv := strings.Fields(args[2])
			if len(argv) == 0 {
				return fmt.Errorf("%s: empty command", args[1])
			}
			path, err := exec.LookPath(argv[0])
			if err != nil {
				return err
			}
			argv[0] = path
			cmds = append(cmds, &command{name: args[1], argv: argv})
			args = args[1:]
		default:
			return fmt.Errorf("unknown argument %q", args[0])
		}
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		args = args[2:]
	}
	if len(cmds) == 0 || out == "" || runs < 1 {
		return errors.New("usage: interleave [-r RUNS] [-w WARMUP] -json FILE -n NAME CMD…")
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	fd := devnull.Fd()
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{fd, fd, fd}}
	for round := -warmup; round < runs; round++ {
		// Each round starts with the next command: no command always
		// runs first, or always after the same one.
		for k := range cmds {
			c := cmds[(k+max(round, 0))%len(cmds)]
			start := time.Now()
			pid, err := syscall.ForkExec(c.argv[0], c.argv, attr)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			var ws syscall.WaitStatus
			var ru syscall.Rusage
			if _, err := syscall.Wait4(pid, &ws, 0, &ru); err != nil {
				return fmt.Errorf("%s: wait: %w", c.name, err)
			}
			wall := time.Since(start).Seconds()
			if round < 0 {
				continue
			}
			c.wall = append(c.wall, wall)
			c.user = append(c.user, time.Duration(ru.Utime.Nano()).Seconds())
			c.sys = append(c.sys, time.Duration(ru.Stime.Nano()).Seconds())
			c.flt = append(c.flt, float64(ru.Minflt))
		}
	}
	var doc struct {
		Results []result `json:"results"`
	}
	for _, c := range cmds {
		doc.Results = append(doc.Results, result{Command: c.name, Mean: mean(c.wall), Median: median(c.wall),
			Min: slices.Min(c.wall), User: mean(c.user), System: mean(c.sys), Faults: median(c.flt)})
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(data, '\n'), 0o644)
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
