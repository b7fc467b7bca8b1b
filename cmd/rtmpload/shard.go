package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rtmpload/rtmpload/report"
)

// resolveShard decides which slice of the scenario this process runs:
// --shard i/n, else a Kubernetes Indexed Job's $JOB_COMPLETION_INDEX with
// --shards n or $JOB_COMPLETIONS. No shard at all is 0 of 1.
func resolveShard(flag string, shards int, getenv func(string) string) (i, n int, err error) {
	if flag != "" {
		is, ns, ok := strings.Cut(flag, "/")
		i, err1 := strconv.Atoi(is)
		n, err2 := strconv.Atoi(ns)
		if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
			return 0, 0, fmt.Errorf("--shard %q: want i/n with 0 <= i < n, such as 3/8", flag)
		}
		if n > report.MaxShards {
			return 0, 0, fmt.Errorf("--shard %q: at most %d shards", flag, report.MaxShards)
		}
		return i, n, nil
	}
	idx := getenv("JOB_COMPLETION_INDEX")
	if idx == "" {
		return 0, 1, nil
	}
	i, err = strconv.Atoi(idx)
	if err != nil || i < 0 {
		return 0, 0, fmt.Errorf("JOB_COMPLETION_INDEX=%q is not a shard index", idx)
	}
	n = shards
	if n == 0 {
		if n, err = strconv.Atoi(getenv("JOB_COMPLETIONS")); err != nil {
			return 0, 0, fmt.Errorf("JOB_COMPLETION_INDEX is set but the shard count is not: pass --shards N or set JOB_COMPLETIONS")
		}
	}
	if n < 1 || i >= n {
		return 0, 0, fmt.Errorf("shard %d of %d: the index must be below the count", i, n)
	}
	if n > report.MaxShards {
		return 0, 0, fmt.Errorf("shard count %d: at most %d shards", n, report.MaxShards)
	}
	return i, n, nil
}
