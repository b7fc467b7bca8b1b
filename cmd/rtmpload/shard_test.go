package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/rtmpload/rtmpload/report"
)

// A shard count has an upper bound, from the flag and from the environment,
// with an error that names it.
func TestResolveShardBoundsTheCount(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	over := strconv.Itoa(report.MaxShards + 1)
	cases := []struct {
		flag   string
		shards int
		env    map[string]string
	}{
		{flag: "0/4000000"},
		{flag: "0/" + over},
		{shards: report.MaxShards + 1, env: map[string]string{"JOB_COMPLETION_INDEX": "0"}},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": over}},
	}
	for _, c := range cases {
		if _, _, err := resolveShard(c.flag, c.shards, env(c.env)); err == nil || !strings.Contains(err.Error(), "at most") {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if i, n, err := resolveShard("3/"+strconv.Itoa(report.MaxShards), 0, env(nil)); err != nil || i != 3 || n != report.MaxShards {
		t.Errorf("the largest count: %d/%d %v", i, n, err)
	}
}
