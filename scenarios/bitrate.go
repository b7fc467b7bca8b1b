package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseBitrate reads a video bitrate as ffmpeg's -b:v does: a number with an optional k/K (1e3)
// or M (1e6) suffix. A lowercase m is refused because ffmpeg reads it as milli.
func ParseBitrate(s string) (int, error) {
	num, mult := s, 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		num, mult = s[:len(s)-1], 1e3
	case strings.HasSuffix(s, "M"):
		num, mult = s[:len(s)-1], 1e6
	}
	// Plain decimals only: ParseFloat alone would also take "1e6", "0x1p4", "Inf".
	plain := num != "" && strings.Trim(num, "0123456789.") == "" && strings.Count(num, ".") <= 1
	f, err := strconv.ParseFloat(num, 64)
	bps := math.Round(f * mult)
	if !plain || err != nil || bps < 1000 || bps > 1e9 || math.Abs(f*mult-bps) > 1e-6 {
		return 0, fmt.Errorf("invalid bitrate %q: want bits per second from 1k to 1000M, such as 500k, 1.5M or 800000", s)
	}
	return int(bps), nil
}
